// The authorization walk's view of the merged OpenAPI document (e2e/authz-walk.test.ts): every
// operation, its class (public, caller-scoped, tenant-scoped) found from its security and its
// parameters, and the request that points it at one org's objects. Nothing here names a route:
// a new operation is classified by the same rules, or reported as unclassifiable.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { waitFor, type WebhookReceiver } from '@trellis/shared/testing';
import { isPublicApiRoute } from '../../services/gateway/src/auth/public-routes.ts';
import type { ApiClient, ApiResponse } from './client.ts';
import { join, type Person } from './people.ts';
import { startSuite, type Suite } from './suite.ts';

export const METHODS = ['get', 'put', 'post', 'patch', 'delete'] as const;

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema?: { example?: unknown; examples?: unknown[]; enum?: unknown[]; default?: unknown };
}
interface Schema {
  $ref?: string;
  required?: string[];
}
interface MediaType {
  schema?: Schema;
  example?: unknown;
}
export interface OperationObject {
  security?: Record<string, string[]>[];
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, MediaType> };
}
export interface OpenApiDocument {
  paths: Record<string, Partial<Record<string, OperationObject>>>;
  components?: { schemas?: Record<string, Schema> };
  'x-unavailable'?: string[];
}

/** The objects of one org a request can point at; `taskKey` is a task's `PROJ-1`, `slug` the org's. */
export const KINDS = [
  'org',
  'slug',
  'team',
  'project',
  'task',
  'taskKey',
  'sprint',
  'comment',
  'channel',
  'message',
  'announcement',
  'invitation',
  'approval',
  'webhook',
  'delivery',
  'notification',
  'user',
] as const;
export type Kind = (typeof KINDS)[number];
export type Ids = Record<Kind, string>;

const isKind = (name: string): name is Kind => (KINDS as readonly string[]).includes(name);
const singular = (word: string) => word.replace(/s$/, '');

type Place = 'path' | 'query' | 'body';

/**
 * Names that do not say their kind by the `<kind>Id` rule: path `slug` (an org's), query `key`
 * (`GET /tasks/lookup`'s task key); body `parentId`, `assigneeId`, `moveOpenTasksTo`.
 */
const ALIASES: Record<Place, Record<string, Kind>> = {
  path: { slug: 'slug' },
  query: { key: 'taskKey' },
  body: { parentId: 'task', assigneeId: 'user', moveOpenTasksTo: 'sprint' },
};

/**
 * Values for required query parameters that name no object, where the document gives none (no
 * example, enum or default): `action` of `GET /orgs/{orgId}/policy/explain`, a rule-book action
 * of the org scope only (shared/src/policy/catalogue.ts), so that no `scope` is needed.
 */
const QUERY_VALUES: Record<string, string> = { action: 'team.create' };

function plainValue(p: Parameter): string | undefined {
  const s = p.schema ?? {};
  const value = s.examples?.[0] ?? s.example ?? s.enum?.[0] ?? s.default ?? QUERY_VALUES[p.name];
  return value === undefined ? undefined : String(value);
}

/** `{id}` is what its path's first segment holds (`/tasks/{id}` → task); `fooId` a foo. */
export function kindOf(name: string, place: Place, path = ''): Kind | undefined {
  if (Object.hasOwn(ALIASES[place], name)) return ALIASES[place][name];
  let base: string | undefined;
  if (name === 'id' && place === 'path') base = singular(/^\/api\/v1\/([a-z-]+)\//.exec(path)?.[1] ?? '');
  else if (name.endsWith('Id')) base = name.slice(0, -'Id'.length);
  return base !== undefined && isKind(base) ? base : undefined;
}

export type OperationClass = 'public' | 'caller' | 'tenant';

/** A place in a request that holds an object: a path or query parameter, a top-level body field. */
export interface Slot {
  place: Place;
  name: string;
  kind: Kind;
  required: boolean;
}

export interface WalkOperation {
  /** `GET /api/v1/tasks/{id}`, as the document writes it. */
  label: string;
  method: string;
  path: string;
  operation: OperationObject;
  /** Undefined when the rules cannot tell; `reason` says why. */
  class?: OperationClass;
  reason?: string;
  slots: Slot[];
}

function jsonBody(operation: OperationObject): MediaType | undefined {
  return operation.requestBody?.content?.['application/json'];
}

function requiredFields(document: OpenApiDocument, schema: Schema | undefined): string[] {
  const named = schema?.$ref?.replace('#/components/schemas/', '');
  return (named ? document.components?.schemas?.[named]?.required : schema?.required) ?? [];
}

/** Every path parameter, query parameter and string field of the body's example that names an object. */
function slotsOf(document: OpenApiDocument, path: string, operation: OperationObject): Slot[] {
  const parameters = (operation.parameters ?? []).flatMap((p): Slot[] => {
    const place = p.in === 'path' || p.in === 'query' ? (p.in as Place) : undefined;
    const kind = place && kindOf(p.name, place, path);
    return place && kind
      ? [{ place, name: p.name, kind, required: place === 'path' || Boolean(p.required) }]
      : [];
  });
  const body = jsonBody(operation);
  const required = requiredFields(document, body?.schema);
  const example = body?.example && typeof body.example === 'object' ? body.example : {};
  const fields = Object.entries(example).flatMap(([name, value]): Slot[] => {
    const kind = typeof value === 'string' ? kindOf(name, 'body') : undefined;
    return kind ? [{ place: 'body', name, kind, required: required.includes(name) }] : [];
  });
  return [...parameters, ...fields];
}

/**
 * - public: `security: []` in the document, and the gateway's public-route list agrees;
 * - tenant: protected, and a path parameter, a required query parameter or a required body
 *   field names an object (an org, a task, a user, …): the caller reaches into someone's data;
 * - caller: protected, and nothing names an object: it acts on the caller's own data only.
 * Unclassifiable: another security requirement, a parameter or a request body the walk cannot
 * fill (a path parameter of no kind, a required query parameter of no kind and no value, a JSON
 * body without example).
 */
export function classify(document: OpenApiDocument, method: string, path: string): WalkOperation {
  const operation = document.paths[path]?.[method] ?? {};
  const slots = slotsOf(document, path, operation);
  const result = (cls: OperationClass | undefined, reason?: string): WalkOperation => ({
    label: `${method.toUpperCase()} ${path}`,
    method,
    path,
    operation,
    slots,
    ...(cls ? { class: cls } : {}),
    ...(reason ? { reason } : {}),
  });
  const security = JSON.stringify(operation.security);
  const gatewayPublic = isPublicApiRoute(method.toUpperCase(), path);
  if (security === '[]')
    return gatewayPublic ? result('public') : result(undefined, 'public in the document, not at the gateway');
  if (security !== '[{"bearer":[]}]') return result(undefined, `security ${security}`);
  if (gatewayPublic) return result(undefined, 'protected in the document, public at the gateway');

  const content = Object.keys(operation.requestBody?.content ?? {});
  if (content.some((type) => type !== 'application/json')) return result(undefined, `body ${content}`);
  if (operation.requestBody && jsonBody(operation)?.example === undefined)
    return result(undefined, 'JSON request body without example');
  const unknown = (operation.parameters ?? []).filter(
    (p) =>
      (p.in === 'path' || (p.in === 'query' && p.required)) &&
      !slots.some((s) => s.name === p.name) &&
      (p.in === 'path' || plainValue(p) === undefined),
  );
  if (unknown.length) return result(undefined, `no kind for ${unknown.map((p) => `${p.in} ${p.name}`)}`);
  return result(slots.some((slot) => slot.required) ? 'tenant' : 'caller');
}

/** Every operation of the document, in its order, classified. */
export function operationsOf(document: OpenApiDocument): WalkOperation[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    METHODS.filter((method) => item[method]).map((method) => classify(document, method, path)),
  );
}

/** What a slot holds in a request; undefined leaves it out (optional query parameters and body fields). */
export type Fill = (slot: Slot) => string | undefined;

/** Every slot points at `ids`' objects; optional query parameters (filters) only with `filters`. */
export const pointAt =
  (ids: Ids, filters = false): Fill =>
  (slot) =>
    slot.place === 'query' && !slot.required && !filters ? undefined : ids[slot.kind];

/** `target` holds `value`, the other required slots `ids`' objects; optional ones are left out. */
export const oneSlot =
  (target: Slot, value: string, ids: Ids): Fill =>
  (slot) =>
    slot === target ? value : slot.required ? ids[slot.kind] : undefined;

/**
 * An operation's request: its path under `/api/v1` (as the e2e client takes it) and query with
 * the slots filled, and the body's example with its object fields filled (or left out).
 */
export function requestOf(op: WalkOperation, fill: Fill): { method: string; path: string; body?: unknown } {
  const value = (place: Place, name: string) => {
    const slot = op.slots.find((s) => s.place === place && s.name === name);
    return slot && fill(slot);
  };
  const path = op.path.replace('/api/v1', '').replace(/\{(\w+)\}/g, (_all, name: string) => {
    const filled = value('path', name);
    if (filled === undefined) throw new Error(`${op.label}: nothing for {${name}}`);
    return encodeURIComponent(filled);
  });
  const query = (op.operation.parameters ?? []).flatMap((p) => {
    if (p.in !== 'query') return [];
    const filled = op.slots.some((s) => s.place === 'query' && s.name === p.name)
      ? value('query', p.name)
      : p.required
        ? plainValue(p)
        : undefined;
    return filled === undefined ? [] : [`${encodeURIComponent(p.name)}=${encodeURIComponent(filled)}`];
  });
  const example = jsonBody(op.operation)?.example;
  const body =
    example && typeof example === 'object' && !Array.isArray(example)
      ? Object.fromEntries(
          Object.entries(example).flatMap(([field, original]) => {
            if (!op.slots.some((s) => s.place === 'body' && s.name === field)) return [[field, original]];
            const filled = value('body', field);
            return filled === undefined ? [] : [[field, filled]];
          }),
        )
      : example;
  return {
    method: op.method.toUpperCase(),
    path: query.length ? `${path}?${query.join('&')}` : path,
    ...(body !== undefined ? { body } : {}),
  };
}

/** Counts per class, and the operations the rules could not classify. */
export function census(operations: WalkOperation[]) {
  const of = (cls: OperationClass) => operations.filter((op) => op.class === cls);
  return {
    total: operations.length,
    public: of('public'),
    caller: of('caller'),
    tenant: of('tenant'),
    unclassified: operations.filter((op) => !op.class),
  };
}

async function created<T = { id: string }>(
  what: string,
  call: Promise<ApiResponse<unknown>>,
  status = 201,
): Promise<T> {
  const res = await call;
  assert.equal(res.status, status, `${what}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as T;
}

/**
 * An org of `owner`'s with one object of every kind: `member` joins it (and its team, and is the
 * `user` of member routes), `outsider` asks to join it (the approval; join requests are off again
 * after), a webhook posts to `receiver` at `/<key>` (and was pinged: the delivery), the member's
 * comment on the owner's task notifies the owner (the notification).
 */
export async function tenantOrg(
  api: ApiClient,
  receiver: { base: string; hooks: WebhookReceiver },
  people: { owner: Person; member: Person; outsider: Person },
  key: string,
): Promise<Ids> {
  const { owner, member, outsider } = people;
  const post = <T = { id: string }>(what: string, path: string, body?: unknown, status = 201) =>
    created<T>(what, api.post(path, body, owner.token), status);
  const org = await post<{ id: string; slug: string }>('org', '/orgs', {
    name: `${key} ${randomUUID().slice(0, 8)}`,
  });
  await join(api, org.id, owner, member, 'MEMBER');
  const team = await post('team', `/orgs/${org.id}/teams`, { name: `${key} team` });
  await post('team member', `/teams/${team.id}/members`, { userId: member.id, role: 'MEMBER' });
  const project = await post('project', '/projects', { orgId: org.id, teamId: team.id, name: key, key });
  const sprint = await post('sprint', `/projects/${project.id}/sprints`, {
    name: 'Sprint 1',
    startDate: '2026-01-05',
    endDate: '2026-01-16',
  });
  const task = await post<{ id: string; key: string }>('task', `/projects/${project.id}/tasks`, {
    title: 'A task',
    assigneeId: member.id,
    sprintId: sprint.id,
    estimate: 3,
  });
  await post('subtask', `/projects/${project.id}/tasks`, { title: 'A subtask', parentId: task.id });
  const comment = await post('comment', '/comments', { taskId: task.id, body: 'Mine' });
  // The member may comment once collab knows they may see the project (an event away).
  await waitFor(
    async () =>
      (await api.post('/comments', { taskId: task.id, body: 'Theirs' }, member.token)).status === 201,
    { what: `${member.name} may comment` },
  );
  const channels = await created<{ items: { id: string }[] }>(
    'channels',
    api.get(`/channels?orgId=${org.id}`, owner.token),
    200,
  );
  const channel = channels.items[0];
  assert.ok(channel, 'the org has a chat channel');
  const message = await post('message', `/channels/${channel.id}/messages`, { body: 'Hello' });
  const announcement = await post('announcement', '/announcements', {
    orgId: org.id,
    title: 'News',
    body: 'Hi',
  });
  const invitation = await post('invitation', `/orgs/${org.id}/invitations`, {
    email: `pending-${randomUUID().slice(0, 8)}@example.test`,
    role: 'MEMBER',
  });
  const joinRequests = (allowJoinRequests: boolean) =>
    created('settings', api.patch(`/orgs/${org.id}/settings`, { allowJoinRequests }, owner.token), 200);
  await joinRequests(true);
  const request = await created<{ approval: { id: string } }>(
    'join request',
    api.post(`/orgs/${org.id}/join-requests`, undefined, outsider.token),
    202,
  );
  await joinRequests(false);
  const webhook = await post<{ id: string; secret: string }>('webhook', `/orgs/${org.id}/webhooks`, {
    url: `${receiver.base}/${key}`,
    events: ['task.*'],
  });
  receiver.hooks.secrets.set(`/${key}`, webhook.secret);
  const delivery = await post('ping', `/webhooks/${webhook.id}/ping`, undefined, 202);
  const notification = await waitFor(
    async () => (await api.get<{ items: { id: string }[] }>('/notifications', owner.token)).body.items?.[0],
    { what: `a notification for ${owner.name}` },
  );
  return {
    org: org.id,
    slug: org.slug,
    team: team.id,
    project: project.id,
    task: task.id,
    taskKey: task.key,
    sprint: sprint.id,
    comment: comment.id,
    channel: channel.id,
    message: message.id,
    announcement: announcement.id,
    invitation: invitation.id,
    approval: request.approval.id,
    webhook: webhook.id,
    delivery: delivery.id,
    notification: notification.id,
    user: member.id,
  };
}

/** A value of a kind that names nothing: what a foreign object must answer like (no existence leak). */
export function absent(kind: Kind): string {
  if (kind === 'slug') return `absent-${randomUUID().slice(0, 8)}`;
  if (kind === 'taskKey') return 'NONE-999';
  return randomUUID();
}

/** The suite the walks run on: rate limits out of the way, webhooks allowed to a local receiver. */
export function walkSuite(): Promise<Suite> {
  return startSuite({
    env: {
      gateway: { RATE_LIMIT_PER_USER: '100000', RATE_LIMIT_PER_IP: '100000' },
      notify: { WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' },
    },
  });
}
