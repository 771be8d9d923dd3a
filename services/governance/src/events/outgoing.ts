import { createEvent, type EventDefinition, type EventEnvelope } from '@trellis/shared';

/**
 * An event governance publishes. Every one names its org and its actor (the audit log files it
 * under the org and attributes it), so both are required here rather than optional as in the envelope.
 */
export function governanceEvent<D extends Record<string, unknown>>(
  definition: EventDefinition<D>,
  event: { orgId: string; actorId: string; subjectId: string; data: D },
): EventEnvelope<D> {
  return createEvent(definition, 'governance', event);
}
