import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { assertProblem } from '@trellis/shared/testing';
import {
  addMember,
  api,
  createProject,
  newUser,
  orgWithRoles,
  startWork,
  uniqueKey,
  type Work,
} from './helpers.ts';

let work: Work;

before(async () => {
  work = await startWork();
});

after(() => work.close());

const internal = (path: string, auth?: { Authorization: string }) => {
  const req = api(work.app).get(path);
  return auth ? req.set(auth) : req;
};

test('GET /internal/projects/{id} and /internal/tasks/{id}: snapshots for collab and notify, any signed-in caller', async () => {
  const org = await orgWithRoles(work, ['MEMBER']);
  const key = uniqueKey('IN');
  const project = await createProject(work, org.owner, {
    orgId: org.orgId,
    name: 'Internal',
    key,
    visibility: 'PRIVATE',
  });
  await addMember(work, org.owner, project.id, org.MEMBER.id, 'CONTRIBUTOR');
  const settings = await api(work.app)
    .patch(`/api/v1/projects/${project.id}/settings`)
    .set(org.owner.auth)
    .send({ onlyAssigneeCanUpdateTask: true });
  assert.equal(settings.status, 200, JSON.stringify(settings.body));
  const created = await api(work.app)
    .post(`/api/v1/projects/${project.id}/tasks`)
    .set(org.owner.auth)
    .send({ title: 'Wire the fallback', assigneeId: org.MEMBER.id });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const task = created.body as { id: string; key: string };

  // Any valid token will do (the calling service forwards its caller's): here an outsider's.
  const outsider = newUser(work);
  const res = await internal(`/internal/projects/${project.id}`, outsider.auth);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const expectedMembers = [
    { userId: org.owner.id, role: 'OWNER' },
    { userId: org.MEMBER.id, role: 'CONTRIBUTOR' },
  ].sort((a, b) => a.userId.localeCompare(b.userId));
  const { settings: stored, ...rest } = res.body;
  assert.deepEqual(rest, {
    projectId: project.id,
    orgId: org.orgId,
    teamId: null,
    name: 'Internal',
    key,
    status: 'ACTIVE',
    visibility: 'PRIVATE',
    ownerId: org.owner.id,
    deleted: false,
    members: expectedMembers,
  });
  assert.equal(stored.onlyAssigneeCanUpdateTask, true);
  assert.equal(stored.inherit, 'none');

  const taskRes = await internal(`/internal/tasks/${task.id}`, outsider.auth);
  assert.equal(taskRes.status, 200, JSON.stringify(taskRes.body));
  assert.deepEqual(taskRes.body, {
    taskId: task.id,
    orgId: org.orgId,
    projectId: project.id,
    key: task.key,
    title: 'Wire the fallback',
    reporterId: org.owner.id,
    assigneeId: org.MEMBER.id,
    deleted: false,
    project: res.body,
  });

  // Soft-deleted task, then project: still answered, marked deleted.
  assert.equal((await api(work.app).delete(`/api/v1/tasks/${task.id}`).set(org.owner.auth)).status, 204);
  assert.equal((await internal(`/internal/tasks/${task.id}`, outsider.auth)).body.deleted, true);
  assert.equal(
    (await api(work.app).delete(`/api/v1/projects/${project.id}`).set(org.owner.auth)).status,
    204,
  );
  const gone = await internal(`/internal/tasks/${task.id}`, outsider.auth);
  assert.equal(gone.status, 200);
  assert.equal(gone.body.project.deleted, true);
  assert.equal((await internal(`/internal/projects/${project.id}`, outsider.auth)).body.deleted, true);
});

test('internal routes: 401 without a valid token, 404 for unknown ids, 400 for malformed ids, absent from OpenAPI', async () => {
  const user = newUser(work);
  const id = randomUUID();
  for (const path of [`/internal/projects/${id}`, `/internal/tasks/${id}`]) {
    assertProblem(await internal(path), 401, 'UNAUTHENTICATED');
    assertProblem(await internal(path, { Authorization: 'Bearer not.a.token' }), 401, 'UNAUTHENTICATED');
    assertProblem(await internal(path, user.auth), 404, 'NOT_FOUND');
  }
  assertProblem(await internal('/internal/projects/nope', user.auth), 400, 'VALIDATION_FAILED');
  assertProblem(await internal('/internal/tasks/nope', user.auth), 400, 'VALIDATION_FAILED');

  const document = await api(work.app).get('/openapi.json');
  assert.equal(document.status, 200);
  assert.ok(Object.keys(document.body.paths).every((path) => !path.startsWith('/internal')));
});
