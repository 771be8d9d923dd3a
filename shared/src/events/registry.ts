import type { z } from 'zod';

/** One event type: the topic it travels on, its schema version and the zod schema of its data. */
export interface EventDefinition<D = Record<string, unknown>> {
  type: string;
  topic: string;
  version: number;
  data: z.ZodType<D>;
}

const definitions = new Map<string, EventDefinition<unknown>>();

/**
 * Registers an event type. Every type lives in `shared/src/events/catalogue`, so producers and
 * consumers validate against the same schema; tests may register throwaway types of their own.
 */
export function defineEvent<D extends Record<string, unknown>>(
  definition: EventDefinition<D>,
): EventDefinition<D> {
  const existing = definitions.get(definition.type);
  if (existing && existing !== definition) {
    throw new Error(`Event type ${definition.type} is already defined`);
  }
  definitions.set(definition.type, definition as EventDefinition<unknown>);
  return definition;
}

export function eventDefinition(type: string): EventDefinition<unknown> | undefined {
  return definitions.get(type);
}

/** Every registered event type (webhook subscriptions are checked against them). */
export function eventTypes(): string[] {
  return [...definitions.keys()];
}
