// Part (c) of the authorization walk (e2e/authz-roles.test.ts): one org on an unlimited plan with
// one person per role of every ladder, an object of every kind to point operations at, and the
// walk's rules that name no route: which ladder an operation is walked with (its `x-policy`), the
// order that keeps the objects alive until the destructive operations run, leaves first, and what
// fills each request.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { waitFor, type WebhookReceiver } from '@trellis/shared/testing';
import type { ApiClient, ApiResponse } from './client.ts';
import { join, person, type Person } from './people.ts';
import { absent, type Fill, type Ids, type Kind, type WalkOperation } from './walk.ts';

export type Scope = 'org' | 'team' | 'project';
/** What an operation's `x-policy` says decides it (shared/src/http/openapi.ts, RoutePolicy). */
export type WalkPolicy = { scope: Scope; action: string } | 'access' | 'personal' | 'self';

/** The ladders of product.md §2, lowest first. */
export const LADDERS: Record<Scope, readonly string[]> = {
  org: ['VIEWER', 'MEMBER', 'MANAGER', 'ADMIN', 'OWNER'],
  team: ['VIEWER', 'MEMBER', 'LEAD', 'MANAGER', 'OWNER'],
  project: ['VIEWER', 'CONTRIBUTOR', 'LEAD', 'MANAGER', 'OWNER'],
};

export const atLeast = (scope: Scope, role: string, required: string) =>
  LADDERS[scope].indexOf(role) >= LADDERS[scope].indexOf(required);

/** The operation's `x-policy`, or undefined when it has none the walk understands. */
export function policyOf(op: WalkOperation): WalkPolicy | undefined {
  const policy = (op.operation as { 'x-policy'?: unknown })['x-policy'];
  if (policy === 'access' || policy === 'personal' || policy === 'self') return policy;
  if (policy && typeof policy === 'object') {
    const { scope, action } = policy as { scope?: unknown; action?: unknown };
    if ((scope === 'org' || scope === 'team' || scope === 'project') && typeof action === 'string')
      return { scope, action };
  }
  return undefined;
}

const PROJECT_KINDS: readonly Kind[] = ['project', 'task', 'taskKey', 'sprint', 'comment'];

/** The ladder an `access` operation is walked with: that of the narrowest object it names. */
export function accessScope(op: WalkOperation): Scope {
  const kinds = op.slots.filter((s) => s.required).map((s) => s.kind);
  if (kinds.some((k) => PROJECT_KINDS.includes(k))) return 'project';
  return kinds.includes('team') ? 'team' : 'org';
}

/** Deletes, ownership transfers and restores: walked last, and stopped once a call went through. */
export const isDestructive = (op: WalkOperation) =>
  op.method === 'delete' || /\/(transfer-ownership|restore)$/.test(op.path);
/** A settings change: what it changed is put back after each call that went through. */
export const isSettingsChange = (op: WalkOperation) => op.method === 'patch' && op.path.endsWith('/settings');

/** How deep an object sits: what holds it is destroyed after it. */
const DEPTH: Partial<Record<Kind, number>> = {
  org: 0,
  project: 2,
  sprint: 3,
  task: 4,
  comment: 5,
  message: 5,
};
/** On one object: the transfer first (the heir is OWNER from then on), then delete, then restore. */
const VERB = (op: WalkOperation) =>
  op.path.endsWith('/transfer-ownership') ? 0 : op.method === 'delete' ? 1 : 2;

/**
 * The walk's order: everything else in the document's order, then the settings changes, then the
 * destructive operations leaves first (deepest object first; on one object, its members before it).
 * A restore is walked twice: first on the live object (the role is decided before anything else:
 * below the threshold a denial, above it a 409, nothing to restore), then after the delete.
 */
export function walkOrder(operations: WalkOperation[]): WalkOperation[] {
  const paths = (op: WalkOperation) => op.slots.filter((s) => s.place === 'path');
  const depth = (op: WalkOperation) => DEPTH[paths(op)[0]?.kind ?? 'org'] ?? 1;
  const entries = operations.map((op, index) => ({
    op,
    index,
    phase: isDestructive(op) ? 2 : isSettingsChange(op) ? 1 : 0,
  }));
  const live = entries.filter((e) => e.op.path.endsWith('/restore')).map((e) => ({ ...e, phase: 0 }));
  return [...entries, ...live]
    .sort(
      (a, b) =>
        a.phase - b.phase ||
        (a.phase === 2
          ? depth(b.op) - depth(a.op) || paths(b.op).length - paths(a.op).length || VERB(a.op) - VERB(b.op)
          : 0) ||
        a.index - b.index,
    )
    .map(({ op }) => op);
}

/** One org of the walk's: its objects, a second sprint, its people per ladder, and the heir. */
export interface LadderOrg {
  ids: Ids;
  /** Another object of a kind: where a body field names the same kind as the path (`moveOpenTasksTo`). */
  others: Partial<Ids>;
  owner: Person;
  /** A member of the org, the team and the project, to whom every ownership transfer goes. */
  heir: Person;
  /** Per scope, per role, lowest first; a transfer makes the heir the ladder's OWNER. */
  ladders: Record<Scope, { role: string; who: Person }[]>;
}

/**
 * What fills a request: the org's objects; optional filters and body fields left out, but for the
 * user a decision is about (`…/policy/explain?userId=`); a body field naming the kind of the path's
 * object gets another one (a sprint's tasks move to another sprint); a transfer goes to the heir.
 */
export function fillFor(op: WalkOperation, org: LadderOrg): Fill {
  return (slot) => {
    if (slot.kind === 'user' && op.path.endsWith('/transfer-ownership')) return org.heir.id;
    if (slot.place !== 'path' && !slot.required)
      return slot.place === 'query' && slot.kind === 'user' ? org.ids.user : undefined;
    const same = slot.place === 'body' && op.slots.some((s) => s.place === 'path' && s.kind === slot.kind);
    return (same && org.others[slot.kind]) || org.ids[slot.kind];
  };
}

/** `GET /orgs/{id}/policy` (of the team, of the project): the threshold in force of each action. */
export async function thresholds(api: ApiClient, org: LadderOrg): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const { ids, owner } = org;
  const places: [Scope, string][] = [
    ['org', ''],
    ['team', `?teamId=${ids.team}`],
    ['project', `?projectId=${ids.project}`],
  ];
  for (const [scope, query] of places) {
    type Book = { items: { scope: string; action: string; threshold: string }[] };
    const res = await api.get<Book>(`/orgs/${ids.org}/policy${query}`, owner.token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    for (const item of res.body.items.filter((i) => i.scope === scope))
      found.set(`${scope} ${item.action}`, item.threshold);
  }
  return found;
}

async function expect<T = { id: string }>(what: string, call: Promise<ApiResponse<unknown>>, status = 201) {
  const res = await call;
  assert.equal(res.status, status, `${what}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as T;
}

const NAMES: Record<Scope, string> = { org: 'Org', team: 'Team', project: 'Project' };

/**
 * The org (plan ENTERPRISE, every threshold at its default): org roles by invitation; team roles
 * given to org MEMBERs by the org OWNER, who created the team and handed it to the team OWNER;
 * project roles likewise on an ORG-visibility project in no team. `user` (the target of the member
 * routes) is an org MEMBER, team MEMBER and project CONTRIBUTOR; so is the heir.
 */
export async function ladderOrg(
  api: ApiClient,
  receiver: { base: string; hooks: WebhookReceiver },
): Promise<LadderOrg> {
  const owner = await person(api, 'Olive Owner');
  const as = (who: Person) => ({
    post: <T = { id: string }>(what: string, path: string, body?: unknown, status = 201) =>
      expect<T>(what, api.post(path, body, who.token), status),
  });
  const { post } = as(owner);
  const org = await post<{ id: string; slug: string }>('org', '/orgs', {
    name: `Ladders ${randomUUID().slice(0, 8)}`,
  });
  const settings = (body: object) =>
    expect('settings', api.patch(`/orgs/${org.id}/settings`, body, owner.token), 200);
  await settings({ plan: 'ENTERPRISE' });
  const ladders: LadderOrg['ladders'] = { org: [], team: [], project: [] };
  const member = async (name: string, role = 'MEMBER') => {
    const who = await person(api, name);
    await join(api, org.id, owner, who, role);
    return who;
  };
  for (const role of LADDERS.org.slice(0, -1))
    ladders.org.push({ role, who: await member(`Org ${role}`, role) });
  ladders.org.push({ role: 'OWNER', who: owner });
  for (const scope of ['team', 'project'] as const)
    for (const role of LADDERS[scope])
      ladders[scope].push({ role, who: await member(`${NAMES[scope]} ${role}`) });
  const [user, heir, outsider] = [
    await member('Tom Target'),
    await member('Hal Heir'),
    await person(api, 'Ada Asker'),
  ];

  const team = await post('team', `/orgs/${org.id}/teams`, { name: 'Ladder team' });
  const project = await post('project', '/projects', {
    orgId: org.id,
    name: 'Ladder',
    key: 'LAD',
    visibility: 'ORG',
  });
  for (const [scope, path] of [
    ['team', `/teams/${team.id}`],
    ['project', `/projects/${project.id}`],
  ] as const) {
    const base = scope === 'team' ? 'MEMBER' : 'CONTRIBUTOR';
    for (const { role, who } of ladders[scope])
      await post(`${scope} ${role}`, `${path}/members`, {
        userId: who.id,
        role: role === 'OWNER' ? 'MANAGER' : role,
      });
    for (const who of [user, heir])
      await post(`${scope} ${who.name}`, `${path}/members`, { userId: who.id, role: base });
    const next = ladders[scope].at(-1)?.who as Person;
    await post(`${scope} ownership`, `${path}/transfer-ownership`, { userId: next.id }, 200);
  }

  const sprint = await post('sprint', `/projects/${project.id}/sprints`, {
    name: 'Sprint 1',
    startDate: '2026-01-05',
    endDate: '2026-01-16',
  });
  const next = await post('sprint 2', `/projects/${project.id}/sprints`, {
    name: 'Sprint 2',
    startDate: '2026-01-19',
    endDate: '2026-01-30',
  });
  const task = await post<{ id: string; key: string }>('task', `/projects/${project.id}/tasks`, {
    title: 'A task',
    sprintId: sprint.id,
    estimate: 3,
  });
  await post('subtask', `/projects/${project.id}/tasks`, { title: 'A subtask', parentId: task.id });
  // collab learns the project from work's events.
  const comment = await waitFor(
    async () => {
      const res = await api.post<{ id: string }>('/comments', { taskId: task.id, body: 'Mine' }, owner.token);
      return res.status === 201 && res.body;
    },
    { what: 'the first comment' },
  );
  const channels = await expect<{ items: { id: string; scope: string }[] }>(
    'channels',
    api.get(`/channels?orgId=${org.id}`, owner.token),
    200,
  );
  const channel = channels.items.find((c) => c.scope === 'org');
  assert.ok(channel, 'the org has its general channel');
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
  await settings({ allowJoinRequests: true });
  const request = await as(outsider).post<{ approval: { id: string } }>(
    'join request',
    `/orgs/${org.id}/join-requests`,
    undefined,
    202,
  );
  await settings({ allowJoinRequests: false });
  const webhook = await post<{ id: string; secret: string }>('webhook', `/orgs/${org.id}/webhooks`, {
    url: `${receiver.base}/LAD`,
    events: ['task.*'],
  });
  receiver.hooks.secrets.set('/LAD', webhook.secret);
  const delivery = await post('ping', `/webhooks/${webhook.id}/ping`, undefined, 202);
  return {
    ids: {
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
      notification: absent('notification'),
      user: user.id,
    },
    others: { sprint: next.id },
    owner,
    heir,
    ladders,
  };
}
