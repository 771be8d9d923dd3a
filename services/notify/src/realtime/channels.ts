import {
  collabEvents,
  governanceEvents,
  workEvents,
  type EventDefinition,
  type EventEnvelope,
  type realtimeEvents,
} from '@trellis/shared';
import type { z } from 'zod';

/** What a socket receives as `event` (api.md §9). */
export type RealtimeEvent = z.infer<typeof realtimeEvents.realtimeEvent>;

export type ChannelKind = 'project' | 'task' | 'org' | 'chat' | 'user';

/** The kinds a client may ask for; `user` exists only as the socket's own inbox. */
const KINDS: readonly ChannelKind[] = ['project', 'task', 'org', 'chat', 'user'];

// Ids are the lowercase UUIDs our services mint; any other spelling would name a channel nothing
// ever publishes to, so it is refused as malformed rather than silently never receiving.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface ChannelName {
  kind: ChannelKind;
  id: string;
}

/** `project:<id>` etc.; undefined when malformed. */
export function parseChannel(channel: string): ChannelName | undefined {
  const colon = channel.indexOf(':');
  const kind = channel.slice(0, colon) as ChannelKind;
  const id = channel.slice(colon + 1);
  return colon > 0 && KINDS.includes(kind) && UUID.test(id) ? { kind, id } : undefined;
}

export const channelName = (kind: ChannelKind, id: string): string => `${kind}:${id}`;
export const userChannel = (userId: string): string => channelName('user', userId);
export const isUuid = (value: string): boolean => UUID.test(value);

/** How one public event type reaches sockets: its channels, and the type clients see. */
export interface ChannelRoute {
  definition: EventDefinition<Record<string, unknown>>;
  channels: (data: Record<string, unknown>) => string[];
  /** The client-facing type when it differs from the event's (`project.memberAdded` → `member.added`). */
  clientType?: string;
  /** The channels this event opens: nothing was ever on them before it (a new task's). */
  opens?: (data: Record<string, unknown>) => string[];
}

function route<D extends Record<string, unknown>>(
  definition: EventDefinition<D>,
  channels: (data: D) => string[],
  options: { clientType?: string; opens?: (data: D) => string[] } = {},
): ChannelRoute {
  return {
    definition: definition as unknown as EventDefinition<Record<string, unknown>>,
    channels: channels as (data: Record<string, unknown>) => string[],
    ...(options.clientType ? { clientType: options.clientType } : {}),
    ...(options.opens ? { opens: options.opens as (data: Record<string, unknown>) => string[] } : {}),
  };
}

const project = (data: { projectId: string }) => channelName('project', data.projectId);
const task = (data: { taskId: string }) => channelName('task', data.taskId);
const org = (data: { orgId: string }) => channelName('org', data.orgId);
const chat = (data: { channelId: string }) => channelName('chat', data.channelId);
const projectAndTask = (data: { projectId: string; taskId: string }) => [project(data), task(data)];

/**
 * Every public event the hub pushes, in one list (api.md §9 names the client types per channel),
 * but for the org channel's `project.created` (announcements.ts). `user:<id>` (the inbox) is fed
 * by notify's own notification code through `append`, not from here.
 */
export const CHANNEL_ROUTES: readonly ChannelRoute[] = [
  route(workEvents.taskCreated, projectAndTask, { opens: (d) => [task(d)] }),
  route(workEvents.taskUpdated, projectAndTask),
  // A deletion takes its subtasks along: their own channels hear of it too.
  route(workEvents.taskDeleted, (d) => [
    ...projectAndTask(d),
    ...d.subtaskIds.map((id) => channelName('task', id)),
  ]),
  route(workEvents.taskRestored, projectAndTask),
  route(collabEvents.commentCreated, projectAndTask),
  route(collabEvents.commentUpdated, projectAndTask),
  route(collabEvents.commentDeleted, projectAndTask),
  route(workEvents.sprintStarted, (d) => [project(d)]),
  route(workEvents.sprintCompleted, (d) => [project(d)]),
  route(workEvents.projectUpdated, (d) => [project(d)]),
  route(workEvents.projectMemberAdded, (d) => [project(d)], { clientType: 'member.added' }),
  route(workEvents.projectMemberRemoved, (d) => [project(d)], { clientType: 'member.removed' }),
  // `project.created` on the org channel: once per project, when the whole org can first see it
  // (announcements.ts; it needs the store, these routes do not).
  route(governanceEvents.memberAdded, (d) => [org(d)]),
  route(governanceEvents.memberRemoved, (d) => [org(d)]),
  route(governanceEvents.teamCreated, (d) => [org(d)]),
  route(collabEvents.announcementPosted, (d) => [org(d)]),
  route(collabEvents.messageCreated, (d) => [chat(d)]),
  route(collabEvents.messageUpdated, (d) => [chat(d)]),
  route(collabEvents.messageDeleted, (d) => [chat(d)]),
];

const routesByType = new Map(CHANNEL_ROUTES.map((r) => [r.definition.type, r]));

export interface ChannelDelivery {
  channel: string;
  event: RealtimeEvent;
  /** The event opens the channel (`ChannelRoute.opens`): its history may skip looking for an end. */
  opens?: true;
}

/** The channels a public event goes to and what its sockets receive; empty for types the hub ignores. */
export function channelDeliveries(envelope: EventEnvelope): ChannelDelivery[] {
  const match = routesByType.get(envelope.type);
  if (!match) return [];
  const event: RealtimeEvent = {
    id: envelope.id,
    type: match.clientType ?? envelope.type,
    occurredAt: envelope.occurredAt,
    actorId: envelope.actorId,
    data: envelope.data,
  };
  const opened = new Set(match.opens?.(envelope.data));
  return match
    .channels(envelope.data)
    .map((channel) => ({ channel, event, ...(opened.has(channel) ? { opens: true as const } : {}) }));
}
