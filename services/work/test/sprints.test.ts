import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { EventEnvelope } from '@trellis/shared';
import { assertProblem, type TopicReader } from '@trellis/shared/testing';
import {
  addMember,
  api,
  createProject,
  envelopes,
  newUser,
  orgWithRoles,
  readTopics,
  startWork,
  uniqueKey,
  waitForEvent,
  type TestUser,
  type Work,
} from './helpers.ts';

let work: Work;
let reader: TopicReader;

before(async () => {
  work = await startWork();
  reader = await readTopics(work, ['work.task', 'work.sprint']);
});

after(async () => {
  await reader.stop();
  await work.close();
});

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

async function setup() {
  const org = await orgWithRoles(work, ['MEMBER']);
  const project = await createProject(work, org.owner, {
    orgId: org.orgId,
    name: 'Sprints',
    key: uniqueKey('S'),
  });
  await addMember(work, org.owner, project.id, org.MEMBER.id, 'CONTRIBUTOR');
  return { org, project, owner: org.owner, contributor: org.MEMBER };
}

const post = (user: TestUser, path: string, body: Record<string, unknown> = {}) =>
  api(work.app).post(`/api/v1${path}`).set(user.auth).send(body);
const get = (user: TestUser, path: string) => api(work.app).get(`/api/v1${path}`).set(user.auth);
const patch = (user: TestUser, path: string, body: Record<string, unknown>) =>
  api(work.app).patch(`/api/v1${path}`).set(user.auth).send(body);

async function sprint(user: TestUser, projectId: string, name: string) {
  const res = await post(user, `/projects/${projectId}/sprints`, {
    name,
    startDate: day(0),
    endDate: day(4),
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.equal(res.headers.location, `/api/v1/sprints/${res.body.id}`);
  return res.body as { id: string; state: string };
}

async function task(user: TestUser, projectId: string, body: Record<string, unknown>) {
  const res = await post(user, `/projects/${projectId}/tasks`, { title: 'T', ...body });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body as { id: string };
}

test('journey: plan, start, finish some, add scope, complete with carry-over; report, velocity, workload', async () => {
  const { project, owner, contributor } = await setup();
  const s1 = await sprint(owner, project.id, 'Sprint 1');
  const s2 = await sprint(owner, project.id, 'Sprint 2');
  assert.equal(s1.state, 'PLANNED');

  const a = await task(owner, project.id, { sprintId: s1.id, estimate: 3 });
  const b = await task(owner, project.id, { sprintId: s1.id, estimate: 5 });
  const c = await task(owner, project.id, { sprintId: s1.id, estimate: 2 });
  await task(owner, project.id, { estimate: 1 }); // X: backlog, never in a sprint

  const started = await post(owner, `/sprints/${s1.id}/start`);
  assert.equal(started.status, 200, JSON.stringify(started.body));
  assert.equal(started.body.state, 'ACTIVE');
  assert.equal(started.body.committedPoints, 10); // A 3 + B 5 + C 2

  // One ACTIVE sprint per project.
  assertProblem(await post(owner, `/sprints/${s2.id}/start`), 409, 'CONFLICT');
  // A PLANNED-only edit on an ACTIVE sprint.
  assertProblem(await patch(owner, `/sprints/${s1.id}`, { name: 'x' }), 409, 'CONFLICT');

  assert.equal((await patch(owner, `/tasks/${a.id}`, { status: 'DONE' })).status, 200); // finish A
  const d = await task(owner, project.id, {
    sprintId: s1.id,
    estimate: 4,
    assigneeId: contributor.id,
    status: 'IN_PROGRESS',
  }); // added 4
  assert.equal((await patch(owner, `/tasks/${c.id}`, { sprintId: null })).status, 200); // removed 2

  const live = await get(owner, `/sprints/${s1.id}/report`);
  assert.equal(live.status, 200);
  assert.equal(live.body.completedPoints, 3);

  // moveOpenTasksTo must be a PLANNED sprint of the project.
  const bad = await post(owner, `/sprints/${s1.id}/complete`, { moveOpenTasksTo: s1.id });
  assertProblem(bad, 422, 'VALIDATION_FAILED');
  assert.equal(bad.body.errors[0].path, 'moveOpenTasksTo');

  const done = await post(owner, `/sprints/${s1.id}/complete`, { moveOpenTasksTo: s2.id });
  assert.equal(done.status, 200, JSON.stringify(done.body));
  assert.equal(done.body.state, 'COMPLETED');
  // Open B (5) and D (4) carried over to sprint 2.
  for (const t of [b, d]) assert.equal((await get(owner, `/tasks/${t.id}`)).body.sprintId, s2.id);

  // Hand calculation: committed 10 (A, B, C); completed 3 (A); added 4 (D); removed 2 (C).
  // Burndown: one day so far (today); remaining at completion B 5 + D 4 = 9; ideal on day 1 of 5 = 10.
  const report = await get(owner, `/sprints/${s1.id}/report`);
  assert.equal(report.status, 200, JSON.stringify(report.body));
  assert.deepEqual(report.body, {
    committedPoints: 10,
    completedPoints: 3,
    addedPoints: 4,
    removedPoints: 2,
    burndown: [{ date: day(0), remainingPoints: 9, idealPoints: 10 }],
  });

  // A COMPLETED sprint takes no tasks.
  const late = await post(owner, `/projects/${project.id}/tasks`, { title: 'late', sprintId: s1.id });
  assertProblem(late, 422, 'VALIDATION_FAILED');
  assert.equal(late.body.errors[0].path, 'sprintId');

  // Sprint 2: committed B 5 + D 4 = 9; B done; completed 5; D back to the backlog.
  assert.equal((await post(owner, `/sprints/${s2.id}/start`)).body.committedPoints, 9);
  await patch(owner, `/tasks/${b.id}`, { status: 'DONE' });
  const done2 = await post(owner, `/sprints/${s2.id}/complete`, { moveOpenTasksTo: null });
  assert.equal(done2.body.completedPoints, 5);
  assert.equal((await get(owner, `/tasks/${d.id}`)).body.sprintId, null);

  const velocity = await get(owner, `/projects/${project.id}/velocity?last=5`);
  assert.deepEqual(velocity.body, {
    sprints: [
      { id: s2.id, name: 'Sprint 2', committedPoints: 9, completedPoints: 5 },
      { id: s1.id, name: 'Sprint 1', committedPoints: 10, completedPoints: 3 },
    ],
    averageCompleted: 4,
  });
  const last1 = await get(owner, `/projects/${project.id}/velocity?last=1`);
  assert.deepEqual(
    last1.body.sprints.map((s: { id: string }) => s.id),
    [s2.id],
  );
  assert.equal(last1.body.averageCompleted, 5);

  // Open: C (2, TODO, unassigned), X (1, TODO, unassigned), D (4, IN_PROGRESS, contributor).
  const workload = await get(owner, `/projects/${project.id}/workload`);
  assert.deepEqual(workload.body, [
    {
      assigneeId: contributor.id,
      openTasks: 1,
      openPoints: 4,
      byStatus: { TODO: 0, IN_PROGRESS: 1, IN_REVIEW: 0, BLOCKED: 0 },
    },
    {
      assigneeId: null,
      openTasks: 2,
      openPoints: 3,
      byStatus: { TODO: 2, IN_PROGRESS: 0, IN_REVIEW: 0, BLOCKED: 0 },
    },
  ]);

  const list = await get(owner, `/projects/${project.id}/sprints?state=COMPLETED`);
  assert.equal(list.body.items.length, 2);
});

test('permissions, validation, delete back to the backlog', async () => {
  const { project, owner, contributor } = await setup();
  // A CONTRIBUTOR cannot manage sprints (sprint.manage defaults to LEAD) but can read them.
  const denied = await post(contributor, `/projects/${project.id}/sprints`, {
    name: 'x',
    startDate: day(0),
    endDate: day(1),
  });
  assertProblem(denied, 403, 'POLICY_DENIED');
  const s = await sprint(owner, project.id, 'S');
  assertProblem(await post(contributor, `/sprints/${s.id}/start`), 403, 'POLICY_DENIED');
  assertProblem(
    await api(work.app).delete(`/api/v1/sprints/${s.id}`).set(contributor.auth),
    403,
    'POLICY_DENIED',
  );
  assert.equal((await get(contributor, `/sprints/${s.id}`)).status, 200);

  // Outsiders see nothing.
  const outsider = newUser(work);
  assertProblem(await get(outsider, `/sprints/${s.id}`), 404, 'NOT_FOUND');
  assertProblem(await get(outsider, `/sprints/${s.id}/report`), 404, 'NOT_FOUND');
  assertProblem(await get(outsider, `/projects/${project.id}/workload`), 404, 'NOT_FOUND');
  assertProblem(
    await post(outsider, `/projects/${project.id}/sprints`, {
      name: 'x',
      startDate: day(0),
      endDate: day(0),
    }),
    404,
    'NOT_FOUND',
  );

  // endDate before startDate.
  const backwards = await post(owner, `/projects/${project.id}/sprints`, {
    name: 'x',
    startDate: day(2),
    endDate: day(1),
  });
  assert.equal(backwards.status, 422);
  assert.ok(backwards.body.errors.some((e: { path: string }) => e.path.endsWith('endDate')));
  const patched = await patch(owner, `/sprints/${s.id}`, { goal: 'ship', endDate: day(9) });
  assert.equal(patched.status, 200);
  assert.equal(patched.body.goal, 'ship');
  assert.equal(patched.body.endDate, day(9));

  // A sprint of another project is not a task's sprint.
  const other = await createProject(work, owner, {
    orgId: project.orgId,
    name: 'Other',
    key: uniqueKey('O'),
  });
  const foreign = await sprint(owner, other.id, 'Foreign');
  const wrong = await post(owner, `/projects/${project.id}/tasks`, { title: 'x', sprintId: foreign.id });
  assertProblem(wrong, 422, 'VALIDATION_FAILED');
  assert.equal(wrong.body.errors[0].path, 'sprintId');

  // Deleting a PLANNED sprint sends its tasks back to the backlog.
  const t = await task(contributor, project.id, { sprintId: s.id, estimate: 2 });
  const del = await api(work.app).delete(`/api/v1/sprints/${s.id}`).set(owner.auth);
  assert.equal(del.status, 204);
  assert.equal((await get(owner, `/tasks/${t.id}`)).body.sprintId, null);
  assertProblem(await get(owner, `/sprints/${s.id}`), 404, 'NOT_FOUND');
});

test('two concurrent starts in one project: exactly one wins, the other 409', async () => {
  const { project, owner } = await setup();
  const a = await sprint(owner, project.id, 'A');
  const b = await sprint(owner, project.id, 'B');
  const results = await Promise.all([
    post(owner, `/sprints/${a.id}/start`),
    post(owner, `/sprints/${b.id}/start`),
  ]);
  assert.deepEqual(results.map((r) => r.status).sort(), [200, 409]);
});

test('tasks moved by completing or deleting a sprint each publish task.updated with changes {sprintId}', async () => {
  const { project, owner } = await setup();
  const s1 = await sprint(owner, project.id, 'Ending');
  const s2 = await sprint(owner, project.id, 'Next');
  const s3 = await sprint(owner, project.id, 'Dropped');
  const done = await task(owner, project.id, { sprintId: s1.id, status: 'DONE' });
  const open = await task(owner, project.id, { sprintId: s1.id, estimate: 3 });
  const open2 = await task(owner, project.id, { sprintId: s1.id, status: 'BLOCKED' });
  const planned = await task(owner, project.id, { sprintId: s3.id });
  const gone = await task(owner, project.id, { sprintId: s3.id });
  assert.equal((await api(work.app).delete(`/api/v1/tasks/${gone.id}`).set(owner.auth)).status, 204);
  const isSprintMove = (taskId: string) => (e: EventEnvelope) =>
    e.type === 'task.updated' &&
    e.subjectId === taskId &&
    'sprintId' in (e.data as { changes: Record<string, unknown> }).changes;
  const sprintMoves = (taskId: string) => envelopes(reader, 'work.task').filter(isSprintMove(taskId));

  assert.equal((await post(owner, `/sprints/${s1.id}/start`)).status, 200);
  const completed = await post(owner, `/sprints/${s1.id}/complete`, { moveOpenTasksTo: s2.id });
  assert.equal(completed.status, 200, JSON.stringify(completed.body));
  for (const moved of [open, open2]) {
    const event = await waitForEvent(reader, 'work.task', isSprintMove(moved.id));
    const current = (await get(owner, `/tasks/${moved.id}`)).body;
    assert.equal(event.actorId, owner.id);
    assert.equal(event.orgId, project.orgId);
    assert.deepEqual(event.data, {
      taskId: moved.id,
      orgId: project.orgId,
      projectId: project.id,
      key: current.key,
      number: current.number,
      parentId: null,
      title: current.title,
      status: current.status,
      priority: current.priority,
      type: current.type,
      assigneeId: null,
      reporterId: owner.id,
      sprintId: s2.id,
      estimate: current.estimate,
      labels: [],
      dueDate: null,
      completedAt: null,
      version: current.version,
      changes: { sprintId: { from: s1.id, to: s2.id } },
    });
    // Recorded like any field change.
    const activity = (await get(owner, `/tasks/${moved.id}/activity`)).body.items;
    assert.deepEqual(
      activity.filter((a: { field: string }) => a.field === 'sprintId').map((a: { to: unknown }) => a.to),
      [s2.id],
    );
  }
  const sprintEvent = await waitForEvent(
    reader,
    'work.sprint',
    (e) => e.type === 'sprint.completed' && e.subjectId === s1.id,
  );
  assert.deepEqual(
    [...(sprintEvent.data as { movedTaskIds: string[] }).movedTaskIds].sort(),
    [open.id, open2.id].sort(),
  );

  // Deleting a PLANNED sprint: its live task goes to the backlog with one event; the deleted one
  // is moved too (no dangling sprint) but stays silent.
  assert.equal((await api(work.app).delete(`/api/v1/sprints/${s3.id}`).set(owner.auth)).status, 204);
  const backlog = await waitForEvent(reader, 'work.task', isSprintMove(planned.id));
  assert.deepEqual((backlog.data as { changes: unknown }).changes, { sprintId: { from: s3.id, to: null } });
  assert.equal((backlog.data as { sprintId: unknown }).sprintId, null);
  await waitForEvent(reader, 'work.sprint', (e) => e.type === 'sprint.deleted' && e.subjectId === s3.id);
  // Exactly one event per moved task; the DONE task stayed, the deleted one published nothing.
  for (const t of [open, open2, planned]) assert.equal(sprintMoves(t.id).length, 1);
  assert.equal(sprintMoves(done.id).length, 0);
  assert.equal(sprintMoves(gone.id).length, 0);
});
