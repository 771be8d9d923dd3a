import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { currentRequestContext } from '../http/request-context.ts';
import type { EventDefinition } from './registry.ts';

/** The envelope of every integration event (architecture.md §3). */
export const envelopeSchema = z.object({
  id: z.uuid(),
  type: z.string().min(1),
  version: z.number().int().positive(),
  source: z.string().min(1),
  occurredAt: z.iso.datetime({ offset: true }),
  orgId: z.uuid().nullable(),
  actorId: z.uuid().nullable(),
  subjectId: z.string().min(1),
  correlationId: z.string().nullable(),
  data: z.record(z.string(), z.unknown()),
});

export type EventEnvelope<D = Record<string, unknown>> = Omit<z.infer<typeof envelopeSchema>, 'data'> & {
  data: D;
};

export interface NewEvent<D> {
  subjectId: string;
  data: D;
  orgId?: string | null;
  actorId?: string | null;
  correlationId?: string | null;
  occurredAt?: Date;
}

/**
 * Builds an envelope for a registered event type, validating its data (producers validate, so a
 * bad event fails the write that caused it instead of poisoning consumers). The correlation id
 * defaults to the id of the request being served.
 */
export function createEvent<D extends Record<string, unknown>>(
  definition: EventDefinition<D>,
  source: string,
  event: NewEvent<D>,
): EventEnvelope<D> {
  const data = definition.data.parse(event.data) as D;
  return {
    id: randomUUID(),
    type: definition.type,
    version: definition.version,
    source,
    occurredAt: (event.occurredAt ?? new Date()).toISOString(),
    orgId: event.orgId ?? null,
    actorId: event.actorId ?? null,
    subjectId: event.subjectId,
    correlationId: event.correlationId ?? currentRequestContext()?.requestId ?? null,
    data,
  };
}
