import { createEvent, type EventDefinition, type NewEvent } from '@trellis/shared';

/** An event published by work (source `work`). */
export function workEvent<D extends Record<string, unknown>>(
  definition: EventDefinition<D>,
  event: NewEvent<D>,
) {
  return createEvent(definition, 'work', event);
}
