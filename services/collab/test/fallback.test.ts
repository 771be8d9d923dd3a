import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { InternalClient, type OrgRole, type ProjectRole } from '@trellis/shared';
import { assertProblem, stopServers, testLogger } from '@trellis/shared/testing';
import {
  api,
  newUser,
  orgWithRoles,
  projectData,
  startCollab,
  taskData,
  type Collab,
  type TestOrg,
  type TestUser,
} from './helpers.ts';

// One local server stands in for both owners' cluster-only endpoints: work's
// `/internal/tasks/{id}` and governance's `/internal/orgs/{orgId}/members/{userId}`.
let standIn: Server;
let collab: Collab;
const tasks = new Map<string, unknown>();
const memberships = new Map<string, OrgRole>();
const broken = new Set<string>();
const calls: { path: string; authorization: string | undefined }[] = [];

before(async () => {
  standIn = createServer((req, res) => {
    const path = req.url ?? '';
    calls.push({ path, authorization: req.headers.authorization });
    const task = /^\/internal\/tasks\/([^/]+)$/.exec(path);
    const member = /^\/internal\/orgs\/([^/]+)\/members\/([^/]+)$/.exec(path);
    const bearer = req.headers.authorization?.startsWith('Bearer ') ?? false;
    if (task && broken.has(task[1]!)) {
      res.writeHead(500).end();
      return;
    }
    const body = !bearer
      ? undefined
      : task
        ? tasks.get(task[1]!)
        : member && memberships.has(`${member[1]}/${member[2]}`)
          ? {
              orgId: member[1],
              userId: member[2],
              role: memberships.get(`${member[1]}/${member[2]}`),
              teams: [],
              orgSettings: {},
              teamSettings: {},
            }
          : undefined;
    if (!body) {
      res.writeHead(404, { 'content-type': 'application/problem+json' }).end('{}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => standIn.listen(0, '127.0.0.1', resolve));
  const address = standIn.address();
  const baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const logger = testLogger('collab');
  collab = await startCollab({
    governance: new InternalClient({ name: 'governance', baseUrl, logger }),
    work: new InternalClient({ name: 'work', baseUrl, logger }),
  });
});

after(async () => {
  await collab.close();
  await stopServers([standIn]);
});

/** A task only work knows yet (its events still in flight), in a PRIVATE project with these members. */
function taskOnlyWorkKnows(org: TestOrg, members: [TestUser, ProjectRole][]) {
  const projectId = randomUUID();
  const project = projectData(org, projectId, { name: 'Fresh', visibility: 'PRIVATE' });
  const task = taskData(project, org.owner.id);
  tasks.set(task.taskId, {
    taskId: task.taskId,
    orgId: task.orgId,
    projectId,
    key: task.key,
    title: task.title,
    reporterId: task.reporterId,
    assigneeId: null,
    deleted: false,
    project: {
      ...project,
      settings: null,
      deleted: false,
      members: members.map(([user, role]) => ({ userId: user.id, role })),
    },
  });
  return task;
}

test('a task the projection has not seen is found through work, with the caller token forwarded', async () => {
  const org = await orgWithRoles(collab);
  const task = taskOnlyWorkKnows(org, [[org.MEMBER, 'CONTRIBUTOR']]);
  assert.equal(await collab.services.projection.reader.taskRow(task.taskId), null);

  const body = `first! <@${org.owner.id}> <@${org.VIEWER.id}>`;
  const created = await api(collab.app)
    .post('/api/v1/comments')
    .set(org.MEMBER.auth)
    .send({ taskId: task.taskId, body });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.deepEqual([created.body.projectId, created.body.orgId], [task.projectId, org.orgId]);
  // Mentions are judged on the projection the fallback filled in: the org VIEWER cannot see the PRIVATE project.
  assert.deepEqual(created.body.mentions, [org.owner.id]);
  const asked = calls.find((c) => c.path === `/internal/tasks/${task.taskId}`);
  assert.equal(asked?.authorization, org.MEMBER.auth.Authorization);
  assert.equal((await collab.services.projection.reader.taskRow(task.taskId))?.projectId, task.projectId);

  // The org VIEWER is not in the PRIVATE project: still a 404 for them.
  assertProblem(
    await api(collab.app).get('/api/v1/comments').query({ taskId: task.taskId }).set(org.VIEWER.auth),
    404,
    'NOT_FOUND',
  );
});

test('a member only governance knows yet acts at once through the membership fallback', async () => {
  const org = await orgWithRoles(collab);
  const late = newUser(collab);
  const task = taskOnlyWorkKnows(org, []);
  assertProblem(
    await api(collab.app).get('/api/v1/announcements').query({ orgId: org.orgId }).set(late.auth),
    404,
    'NOT_FOUND',
  );

  memberships.set(`${org.orgId}/${late.id}`, 'ADMIN');
  const posted = await api(collab.app)
    .post('/api/v1/announcements')
    .set(late.auth)
    .send({ orgId: org.orgId, title: 'New here', body: 'hello' });
  assert.equal(posted.status, 201, JSON.stringify(posted.body));
  // Org ADMIN → project MANAGER: may comment in the PRIVATE project.
  const commented = await api(collab.app)
    .post('/api/v1/comments')
    .set(late.auth)
    .send({ taskId: task.taskId, body: 'on it' });
  assert.equal(commented.status, 201, JSON.stringify(commented.body));
  assert.equal((await collab.services.projection.reader.org(org.orgId, late.id))?.role, 'ADMIN');
});

test('a task work does not know, or cannot answer for, is a 404 — never a 500', async () => {
  const org = await orgWithRoles(collab);
  assertProblem(
    await api(collab.app)
      .post('/api/v1/comments')
      .set(org.owner.auth)
      .send({ taskId: randomUUID(), body: 'hi' }),
    404,
    'NOT_FOUND',
  );
  const sick = randomUUID();
  broken.add(sick);
  assertProblem(
    await api(collab.app).post('/api/v1/comments').set(org.owner.auth).send({ taskId: sick, body: 'hi' }),
    404,
    'NOT_FOUND',
  );
  assert.ok(calls.some((c) => c.path === `/internal/tasks/${sick}`));
});
