import { createHmac, randomBytes } from 'node:crypto';
import { eventDefinition, eventTypes, TOPICS, type EventEnvelope } from '@trellis/shared';

// The rules of webhooks and the event feed (api.md §10), apart from their storage and transport.

/**
 * Topics whose events an org's integrations may hear: every org topic but the mail requests (one-time
 * codes, invitation tokens) and identity's (users and sessions belong to no org).
 */
export const PUBLIC_TOPICS: readonly string[] = TOPICS.filter(
  (topic) => !topic.endsWith('.mail') && !topic.startsWith('identity.'),
);

/** The type of the test delivery `POST /webhooks/{id}/ping` sends. */
export const PING_TYPE = 'webhook.ping';

/** The event types a webhook may subscribe to. */
export function publicEventTypes(): string[] {
  return eventTypes()
    .filter((type) => PUBLIC_TOPICS.includes(eventDefinition(type)?.topic ?? ''))
    .sort();
}

/** `task.created`, `task.*` or `*`. */
export function matchesEvent(patterns: readonly string[], type: string): boolean {
  return patterns.some(
    (pattern) =>
      pattern === '*' ||
      pattern === type ||
      (pattern.endsWith('.*') && type.startsWith(pattern.slice(0, -1))),
  );
}

/** Patterns that match no event type we publish (a typo would otherwise subscribe to nothing). */
export function unknownPatterns(patterns: readonly string[]): string[] {
  const types = publicEventTypes();
  return patterns.filter((pattern) => !types.some((type) => matchesEvent([pattern], type)));
}

/** What an event is about, as `subject` in the public envelope: the aggregate its topic is keyed by. */
const SUBJECT_KIND: Record<string, string> = {
  'governance.org': 'org',
  'governance.membership': 'org',
  'governance.team': 'team',
  'governance.invitation': 'invitation',
  'governance.approval': 'approval',
  'work.project': 'project',
  'work.task': 'task',
  'work.sprint': 'sprint',
  'collab.comment': 'task',
  'collab.message': 'channel',
  'collab.announcement': 'announcement',
  'notify.webhook': 'webhook',
};

/** The envelope an integration receives: no source, version or correlation (internal matters). */
export interface PublicEvent {
  id: string;
  type: string;
  occurredAt: string;
  orgId: string;
  actorId: string | null;
  subject: { kind: string; id: string };
  data: Record<string, unknown>;
}

export function publicEvent(event: EventEnvelope & { orgId: string }, topic: string): PublicEvent {
  return {
    id: event.id,
    type: event.type,
    occurredAt: event.occurredAt,
    orgId: event.orgId,
    actorId: event.actorId,
    subject: { kind: SUBJECT_KIND[topic] ?? 'org', id: event.subjectId },
    data: event.data,
  };
}

/** The project and chat channel an event concerns, which decide who may see it. */
export function eventScope(event: PublicEvent): { projectId: string | null; channelId: string | null } {
  const d = event.data;
  const projectId =
    typeof d.projectId === 'string'
      ? d.projectId
      : event.subject.kind === 'project'
        ? event.subject.id
        : null;
  const channelId = typeof d.channelId === 'string' ? d.channelId : null;
  return { projectId, channelId };
}

// Standard Webhooks (https://www.standardwebhooks.com): `whsec_` + base64 of 24 random bytes, and
// `webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, one per live secret.

export function newSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

export function sign(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** The headers of one attempt, signed with every secret still live at `now`. */
export function signedHeaders(
  secrets: readonly { value: string; expiresAt: Date | null }[],
  id: string,
  body: string,
  now: Date,
): Record<string, string> {
  const timestamp = Math.floor(now.getTime() / 1000);
  const live = secrets.filter((s) => s.expiresAt === null || s.expiresAt > now);
  return {
    'content-type': 'application/json',
    'user-agent': 'Trellis-Webhooks/1',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': live.map((s) => sign(s.value, id, timestamp, body)).join(' '),
  };
}

/** The retry schedule: `5s,30s,2m,…` → milliseconds. */
export function parseSchedule(text: string): number[] {
  const units: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
  return text.split(',').map((part) => {
    const match = /^\s*(\d+)(ms|s|m|h)\s*$/.exec(part);
    if (!match) throw new Error(`"${part}" is not a duration like 30s, 2m or 1h`);
    return Number(match[1]) * (units[match[2] as string] as number);
  });
}

/**
 * When to try again after failed try number `tries` (1-based), or null when the schedule is spent.
 * Up to 20 % jitter either way, so receivers coming back are not hit by every sender at once.
 */
export function nextAttemptAt(
  schedule: readonly number[],
  tries: number,
  now: Date,
  random = Math.random,
): Date | null {
  const delay = schedule[tries - 1];
  if (delay === undefined) return null;
  return new Date(now.getTime() + Math.round(delay * (0.8 + 0.4 * random())));
}

/** Whether a run of failures disables the webhook (api.md §10: failing for 24 h, or N in a row). */
export function shouldDisable(
  health: { failures: number; failingSince: Date | null },
  limits: { maxFailures: number; maxFailingMs: number },
  now: Date,
): string | null {
  if (health.failures >= limits.maxFailures) return `${health.failures} failed attempts in a row`;
  if (health.failingSince && now.getTime() - health.failingSince.getTime() >= limits.maxFailingMs)
    return `failing since ${health.failingSince.toISOString()}`;
  return null;
}
