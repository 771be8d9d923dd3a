// Real objects for the fuzzer's path parameters, made through the gateway as a user would: an
// org with a member, a team, a project, tasks, a sprint, a comment, a chat message, an
// announcement, a pending invitation, an approval and a notification. Without them nearly every
// `/{id}` operation stops at 404 and the code behind it is never reached.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';

import { waitFor } from '@trellis/shared/testing';

import type { ApiClient } from '../../e2e/support/client.ts';
import { join, person, type Person } from '../../e2e/support/people.ts';

/** One owner's objects, by the dictionary names config.ts binds parameters to. */
export interface Tenant {
  token: string;
  ids: Record<TenantObject, string[]>;
}

export type TenantObject =
  | 'users'
  | 'orgs'
  | 'slugs'
  | 'teams'
  | 'projects'
  | 'tasks'
  | 'sprints'
  | 'comments'
  | 'channels'
  | 'messages'
  | 'announcements'
  | 'invitations'
  | 'approvals'
  | 'notifications';

export interface Fixtures {
  /** The fuzzing user's objects. */
  user: Tenant;
  /** A second owner's objects, for the operations that destroy things. */
  victim: Tenant;
}

async function created<T = { id: string }>(
  what: string,
  call: Promise<{ status: number; body: unknown }>,
  status = 201,
): Promise<T> {
  const res = await call;
  assert.equal(res.status, status, `${what}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as T;
}

/** An org owned by `owner` that `member` joined, full of objects; `outsider` asks to join it. */
async function tenant(api: ApiClient, owner: Person, member: Person, outsider: Person): Promise<Tenant> {
  const suffix = randomUUID().slice(0, 8);
  const org = await created<{ id: string; slug: string }>(
    'org',
    api.post('/orgs', { name: `Fuzz ${owner.name} ${suffix}` }, owner.token),
  );
  await join(api, org.id, owner, member, 'MEMBER');
  const team = await created('team', api.post(`/orgs/${org.id}/teams`, { name: 'Fuzz team' }, owner.token));
  await created(
    'team member',
    api.post(`/teams/${team.id}/members`, { userId: member.id, role: 'MEMBER' }, owner.token),
  );
  const key = `F${randomUUID().replace(/\D/g, '').slice(0, 4)}`;
  const project = await created(
    'project',
    api.post('/projects', { orgId: org.id, teamId: team.id, name: 'Fuzz project', key }, owner.token),
  );
  const sprint = await created(
    'sprint',
    api.post(
      `/projects/${project.id}/sprints`,
      { name: 'Fuzz sprint', startDate: '2026-01-05', endDate: '2026-01-16' },
      owner.token,
    ),
  );
  const task = await created(
    'task',
    api.post(
      `/projects/${project.id}/tasks`,
      { title: 'Fuzz task', assigneeId: owner.id, sprintId: sprint.id, estimate: 3 },
      owner.token,
    ),
  );
  const subtask = await created(
    'subtask',
    api.post(`/projects/${project.id}/tasks`, { title: 'Fuzz subtask', parentId: task.id }, owner.token),
  );
  const comment = await created(
    'comment',
    api.post('/comments', { taskId: task.id, body: 'Fuzz' }, owner.token),
  );
  // The member's comment on the owner's task is what notifies the owner. The member may comment once
  // their team role has reached collab's projection of who may see the project (an event away).
  await waitFor(
    async () =>
      (await api.post('/comments', { taskId: task.id, body: 'Hello' }, member.token)).status === 201,
    { timeoutMs: 15_000, what: `${member.name} may comment on the task` },
  );
  const channels = await created<{ items: { id: string }[] }>(
    'channels',
    api.get(`/channels?orgId=${org.id}`, owner.token),
    200,
  );
  const channel = channels.items[0];
  assert.ok(channel, 'the org has a chat channel');
  const message = await created(
    'message',
    api.post(`/channels/${channel.id}/messages`, { body: 'Fuzz' }, owner.token),
  );
  const announcement = await created(
    'announcement',
    api.post('/announcements', { orgId: org.id, title: 'Fuzz', body: 'Fuzz' }, owner.token),
  );
  const invitation = await created(
    'invitation',
    api.post(
      `/orgs/${org.id}/invitations`,
      { email: `fuzz-invitee-${suffix}@example.test`, role: 'MEMBER' },
      owner.token,
    ),
  );
  await created(
    'settings',
    api.patch(`/orgs/${org.id}/settings`, { allowJoinRequests: true }, owner.token),
    200,
  );
  const joinRequest = await created<{ approval: { id: string } }>(
    'join request',
    api.post(`/orgs/${org.id}/join-requests`, undefined, outsider.token),
    202,
  );
  const notifications = await waitFor(
    async () => {
      const res = await api.get<{ items: { id: string }[] }>('/notifications', owner.token);
      return res.body.items?.length ? res.body.items : undefined;
    },
    { timeoutMs: 15_000, what: `a notification for ${owner.name}` },
  );
  return {
    token: owner.token,
    ids: {
      users: [owner.id, member.id],
      orgs: [org.id],
      slugs: [org.slug],
      teams: [team.id],
      projects: [project.id],
      tasks: [task.id, subtask.id],
      sprints: [sprint.id],
      comments: [comment.id],
      channels: [channel.id],
      messages: [message.id],
      announcements: [announcement.id],
      invitations: [invitation.id],
      approvals: [joinRequest.approval.id],
      notifications: notifications.map((item) => item.id),
    },
  };
}

/** Two owners with an org each (the other owner asks to join it) and a member in both. */
export async function createFixtures(api: ApiClient): Promise<Fixtures> {
  const [user, victim, member] = await Promise.all([
    person(api, 'Fuzz User'),
    person(api, 'Fuzz Victim'),
    person(api, 'Fuzz Member'),
  ]);
  return {
    user: await tenant(api, user, member, victim),
    victim: await tenant(api, victim, member, user),
  };
}
