import { z } from 'zod';
import { defineEvent } from '../registry.ts';

// notify's internal fan-out topic (architecture.md §3): the replica that assigned a channel's
// `seq` re-publishes the event here; every notify replica reads it with a group of its own and
// pushes it to its local sockets. Not a public topic: nothing outside notify reads it.

/** What a socket receives as `event` (api.md §9). */
export const realtimeEvent = z.object({
  id: z.string().min(1),
  type: z.string().min(1),
  occurredAt: z.iso.datetime({ offset: true }),
  actorId: z.uuid().nullable(),
  data: z.record(z.string(), z.unknown()),
});

export const realtimePublished = defineEvent({
  type: 'realtime.published',
  topic: 'notify.realtime',
  version: 1,
  data: z.object({ channel: z.string().min(1), seq: z.number().int().positive(), event: realtimeEvent }),
});

/**
 * Someone's access may have shrunk (removed from an org, team or project, a project made private or
 * deleted): every replica re-checks the subscriptions of these users (all users of `orgId` when
 * `userIds` is empty) and ends the ones that fail with ACCESS_REVOKED.
 */
export const realtimeAccessChanged = defineEvent({
  type: 'realtime.accessChanged',
  topic: 'notify.realtime',
  version: 1,
  data: z.object({ orgId: z.uuid().nullable(), userIds: z.array(z.uuid()) }),
});
