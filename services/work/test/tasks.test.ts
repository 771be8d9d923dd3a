import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertProblem } from '@trellis/shared/testing';
import {
  addMember,
  api,
  createProject,
  orgWithRoles,
  readTopics,
  startWork,
  uniqueKey,
  waitForEvent,
  type TestUser,
  type Work,
} from './helpers.ts';

let work: Work;

before(async () => {
  work = await startWork();
});

after(() => work.close());

/** An org with a project whose members hold each project role (explicit). */
async function projectWithRoles() {
  const org = await orgWithRoles(work, ['ADMIN', 'MANAGER', 'MEMBER', 'VIEWER']);
  const key = uniqueKey('T');
  const project = await createProject(work, org.owner, { orgId: org.orgId, name: 'Tasks', key });
  await addMember(work, org.owner, project.id, org.MANAGER.id, 'MANAGER');
  await addMember(work, org.owner, project.id, org.MEMBER.id, 'CONTRIBUTOR');
  return { org, project, key, manager: org.MANAGER, contributor: org.MEMBER, viewer: org.VIEWER };
}

const newTask = (user: TestUser, projectId: string, body: Record<string, unknown>) =>
  api(work.app).post(`/api/v1/projects/${projectId}/tasks`).set(user.auth).send(body);

test('50 concurrent creates get KEY-1 … KEY-50, each once', async () => {
  const { project, key, contributor } = await projectWithRoles();
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) => newTask(contributor, project.id, { title: `Task ${i}` })),
  );
  assert.ok(results.every((r) => r.status === 201));
  const keys = results
    .map((r) => r.body.key as string)
    .sort((a, b) => Number(a.split('-')[1]) - Number(b.split('-')[1]));
  assert.deepEqual(
    keys,
    Array.from({ length: 50 }, (_, i) => `${key}-${i + 1}`),
  );
});

test('filters: status and q return exactly the matching tasks; sort and cursor pages', async () => {
  const { project, contributor, org } = await projectWithRoles();
  const a = (
    await newTask(contributor, project.id, {
      title: 'Fix login bug',
      status: 'IN_PROGRESS',
      labels: ['auth'],
    })
  ).body;
  const b = (
    await newTask(contributor, project.id, {
      title: 'Write docs',
      description: 'login flow explained',
      status: 'DONE',
    })
  ).body;
  const c = (
    await newTask(contributor, project.id, {
      title: 'Refactor billing',
      priority: 'URGENT',
      dueDate: '2030-01-01',
    })
  ).body;
  assert.ok(b.completedAt);
  const ids = async (query: Record<string, string>) => {
    const res = await api(work.app)
      .get(`/api/v1/projects/${project.id}/tasks`)
      .query(query)
      .set(contributor.auth);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return (res.body.items as { id: string }[]).map((t) => t.id);
  };
  assert.deepEqual((await ids({ status: 'IN_PROGRESS,DONE' })).sort(), [a.id, b.id].sort());
  assert.deepEqual((await ids({ q: 'login' })).sort(), [a.id, b.id].sort());
  assert.deepEqual(await ids({ q: 'billing' }), [c.id]);
  assert.deepEqual(await ids({ status: 'TODO' }), [c.id]);
  assert.deepEqual(await ids({ label: 'auth' }), [a.id]);
  assert.deepEqual(await ids({ sort: '-priority', limit: '1' }), [c.id]);
  assert.deepEqual(await ids({ sort: 'createdAt' }), [a.id, b.id, c.id]);
  // Keyset pages walk the whole list once.
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const res: { body: { items: { id: string }[]; nextCursor: string | null } } = await api(work.app)
      .get(`/api/v1/projects/${project.id}/tasks`)
      .query({ limit: '1', sort: 'dueDate', ...(cursor ? { cursor } : {}) })
      .set(contributor.auth);
    seen.push(...res.body.items.map((t) => t.id));
    cursor = res.body.nextCursor;
  } while (cursor);
  assert.equal(seen[0], c.id);
  assert.equal(new Set(seen).size, 3);
  // Across projects and by key.
  const mine = await api(work.app)
    .get('/api/v1/tasks')
    .query({ orgId: org.orgId, status: 'DONE' })
    .set(contributor.auth);
  assert.deepEqual(
    mine.body.items.map((t: { id: string }) => t.id),
    [b.id],
  );
  const byKey = await api(work.app)
    .get('/api/v1/tasks/lookup')
    .query({ orgId: org.orgId, key: a.key })
    .set(contributor.auth);
  assert.equal(byKey.body.id, a.id);
});

test('a CONTRIBUTOR patches title and status (history, completedAt, If-Match); a MANAGER deletes', async () => {
  const { project, contributor, manager } = await projectWithRoles();
  const task = (await newTask(manager, project.id, { title: 'Old title' })).body;
  const patched = await api(work.app)
    .patch(`/api/v1/tasks/${task.id}`)
    .set(contributor.auth)
    .set('If-Match', '"1"')
    .send({ title: 'New title', status: 'DONE' });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.equal(patched.body.version, 2);
  assert.ok(patched.body.completedAt);
  assert.equal(patched.headers.etag, '"2"');
  assertProblem(
    await api(work.app)
      .patch(`/api/v1/tasks/${task.id}`)
      .set(contributor.auth)
      .set('If-Match', '"1"')
      .send({ status: 'TODO' }),
    412,
    'PRECONDITION_FAILED',
  );
  const reopened = await api(work.app)
    .patch(`/api/v1/tasks/${task.id}`)
    .set(contributor.auth)
    .send({ status: 'TODO' });
  assert.equal(reopened.body.completedAt, null);
  const activity = await api(work.app).get(`/api/v1/tasks/${task.id}/activity`).set(contributor.auth);
  assert.deepEqual(
    activity.body.items
      .filter((e: { field: string }) => e.field !== 'created')
      .map((e: { field: string; from: unknown; to: unknown }) => [e.field, e.from, e.to]),
    [
      ['title', 'Old title', 'New title'],
      ['status', 'TODO', 'DONE'],
      ['status', 'DONE', 'TODO'],
    ],
  );
  assertProblem(
    await api(work.app).delete(`/api/v1/tasks/${task.id}`).set(contributor.auth),
    403,
    'POLICY_DENIED',
  );
  assert.equal((await api(work.app).delete(`/api/v1/tasks/${task.id}`).set(manager.auth)).status, 204);
  const list = await api(work.app).get(`/api/v1/projects/${project.id}/tasks`).set(manager.auth);
  assert.ok(!list.body.items.some((t: { id: string }) => t.id === task.id));
  assertProblem(await api(work.app).get(`/api/v1/tasks/${task.id}`).set(manager.auth), 404, 'NOT_FOUND');
});

test('creator/assignee override, onlyAssigneeCanUpdateTask, assignee role check', async () => {
  const { org, project, contributor, manager, viewer } = await projectWithRoles();
  // A viewer cannot be assigned (422) nor update tasks in general.
  const bad = await newTask(manager, project.id, { title: 'x', assigneeId: viewer.id });
  assertProblem(bad, 422, 'VALIDATION_FAILED');
  assert.equal(bad.body.errors[0].path, 'assigneeId');
  // Raise task.update to LEAD: a CONTRIBUTOR may still update tasks they created or are assigned.
  await api(work.app)
    .patch(`/api/v1/projects/${project.id}/settings`)
    .set(org.owner.auth)
    .send({ thresholds: { 'task.update': 'LEAD' } });
  const others = (await newTask(manager, project.id, { title: 'Managers task' })).body;
  const own = (await newTask(contributor, project.id, { title: 'Own task' })).body;
  const assigned = (await newTask(manager, project.id, { title: 'Assigned', assigneeId: contributor.id }))
    .body;
  assertProblem(
    await api(work.app).patch(`/api/v1/tasks/${others.id}`).set(contributor.auth).send({ title: 'no' }),
    403,
    'POLICY_DENIED',
  );
  assert.equal(
    (await api(work.app).patch(`/api/v1/tasks/${own.id}`).set(contributor.auth).send({ title: 'mine' }))
      .status,
    200,
  );
  assert.equal(
    (
      await api(work.app)
        .patch(`/api/v1/tasks/${assigned.id}`)
        .set(contributor.auth)
        .send({ status: 'IN_REVIEW' })
    ).status,
    200,
  );
  // onlyAssigneeCanUpdateTask: the creator loses the override; the assignee and MANAGER+ keep it.
  await api(work.app)
    .patch(`/api/v1/projects/${project.id}/settings`)
    .set(org.owner.auth)
    .send({ onlyAssigneeCanUpdateTask: true });
  const denied = await api(work.app)
    .patch(`/api/v1/tasks/${own.id}`)
    .set(contributor.auth)
    .send({ title: 'again' });
  assertProblem(denied, 403, 'POLICY_DENIED');
  assert.equal(denied.body.policy.requiredRole, 'MANAGER');
  assert.equal(
    (await api(work.app).patch(`/api/v1/tasks/${assigned.id}`).set(contributor.auth).send({ status: 'DONE' }))
      .status,
    200,
  );
  assert.equal(
    (await api(work.app).patch(`/api/v1/tasks/${own.id}`).set(manager.auth).send({ title: 'by manager' }))
      .status,
    200,
  );
});

test('subtasks: same project, cycles rejected, delete cascades, restore brings them back', async () => {
  const { project, manager } = await projectWithRoles();
  const root = (await newTask(manager, project.id, { title: 'Root' })).body;
  const child = (await newTask(manager, project.id, { title: 'Child', parentId: root.id })).body;
  const grandchild = (await newTask(manager, project.id, { title: 'Grandchild', parentId: child.id })).body;
  const cycle = await api(work.app)
    .patch(`/api/v1/tasks/${root.id}`)
    .set(manager.auth)
    .send({ parentId: grandchild.id });
  assertProblem(cycle, 422, 'VALIDATION_FAILED');
  const top = await api(work.app)
    .get(`/api/v1/projects/${project.id}/tasks`)
    .query({ parentId: 'none' })
    .set(manager.auth);
  assert.deepEqual(
    top.body.items.map((t: { id: string }) => t.id),
    [root.id],
  );
  assert.equal((await api(work.app).delete(`/api/v1/tasks/${root.id}`).set(manager.auth)).status, 204);
  assertProblem(
    await api(work.app).get(`/api/v1/tasks/${grandchild.id}`).set(manager.auth),
    404,
    'NOT_FOUND',
  );
  assert.equal((await api(work.app).post(`/api/v1/tasks/${root.id}/restore`).set(manager.auth)).status, 200);
  assert.equal((await api(work.app).get(`/api/v1/tasks/${grandchild.id}`).set(manager.auth)).status, 200);
  const feed = await api(work.app).get(`/api/v1/projects/${project.id}/activity`).set(manager.auth);
  assert.ok(feed.body.items.length >= 3);
});

/** Counts the statements sent to PostgreSQL while `fn` runs, with the outbox relay held back. */
async function roundTrips(fn: () => Promise<unknown>) {
  const { sequelize, outbox } = work.harness.runtime;
  const connection = await sequelize.connectionManager.getConnection({ type: 'read' });
  sequelize.connectionManager.releaseConnection(connection);
  const client = Object.getPrototypeOf(connection) as { query: (...args: unknown[]) => unknown };
  const query = client.query;
  const wake = outbox.wake;
  await outbox.stop(); // waits for a relay pass in flight
  outbox.wake = () => undefined; // commits wake the relay
  let count = 0;
  client.query = function (this: unknown, ...args: unknown[]) {
    count += 1;
    return query.apply(this, args);
  };
  try {
    await fn();
  } finally {
    client.query = query;
    outbox.wake = wake;
    outbox.start();
  }
  return count;
}

test('a create and a PATCH each take five round trips; history per field in order, event and labels verbatim', async () => {
  const { project, contributor } = await projectWithRoles();
  const reader = await readTopics(work, ['work.task']);
  try {
    const labels = ['a,b', 'say "hi"', '{x}', 'back\\slash'];
    let created: Record<string, unknown> = {};
    assert.equal(
      await roundTrips(async () => {
        created = (await newTask(contributor, project.id, { title: 'Old', labels, estimate: 2 })).body;
      }),
      5, // BEGIN, access, counter + task + history, outbox, COMMIT
    );
    assert.deepEqual(created.labels, labels);
    const next = {
      title: 'New',
      status: 'DONE',
      estimate: 5,
      labels: ['ünï', 'NULL'],
      dueDate: '2031-02-03',
    };
    let patched: Record<string, unknown> = {};
    assert.equal(
      await roundTrips(async () => {
        const res = await api(work.app)
          .patch(`/api/v1/tasks/${created.id}`)
          .set(contributor.auth)
          .set('If-Match', '"1"')
          .send(next);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        patched = res.body;
      }),
      5, // BEGIN, task with access, update + history, outbox, COMMIT
    );
    assert.deepEqual(
      { ...next, version: patched.version },
      {
        title: patched.title,
        status: patched.status,
        estimate: patched.estimate,
        labels: patched.labels,
        dueDate: patched.dueDate,
        version: 2,
      },
    );
    const activity = await api(work.app).get(`/api/v1/tasks/${created.id}/activity`).set(contributor.auth);
    assert.deepEqual(
      activity.body.items.map((e: { field: string; from: unknown; to: unknown }) => [e.field, e.from, e.to]),
      [
        ['created', null, created.key],
        ['title', 'Old', 'New'],
        ['status', 'TODO', 'DONE'],
        ['estimate', 2, 5],
        ['labels', labels, ['ünï', 'NULL']],
        ['dueDate', null, '2031-02-03'],
      ],
    );
    const event = await waitForEvent(
      reader,
      'work.task',
      (e) => e.type === 'task.updated' && e.subjectId === created.id,
    );
    const data = event.data as Record<string, unknown>;
    assert.equal(data.version, 2);
    assert.equal(data.completedAt, patched.completedAt);
    // (jsonb, which the outbox stores envelopes as, keeps keys in its own order)
    assert.deepEqual(Object.keys(data.changes as object).sort(), [
      'dueDate',
      'estimate',
      'labels',
      'status',
      'title',
    ]);
    assert.deepEqual((data.changes as Record<string, unknown>).labels, { from: labels, to: next.labels });
  } finally {
    await reader.stop();
  }
});

test('GET /tasks?orgId=&assigneeId=me: the caller’s tasks across the org’s projects, newest first, paged', async () => {
  const { org, project, manager, contributor } = await projectWithRoles();
  const other = await createProject(work, org.owner, {
    orgId: org.orgId,
    name: 'Other',
    key: uniqueKey('O'),
  });
  await addMember(work, org.owner, other.id, contributor.id, 'CONTRIBUTOR');
  const create = async (projectId: string, title: string, assigneeId?: string) => {
    const res = await newTask(org.owner, projectId, { title, ...(assigneeId ? { assigneeId } : {}) });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.key as string;
  };
  const first = await create(project.id, 'mine, first project', contributor.id);
  await create(project.id, 'the manager’s', manager.id);
  await create(project.id, 'nobody’s');
  const second = await create(other.id, 'mine, second project', contributor.id);

  const list = (query: string, user = contributor) =>
    api(work.app).get(`/api/v1/tasks?orgId=${org.orgId}&assigneeId=me${query}`).set(user.auth);
  const all = await list('');
  assert.equal(all.status, 200, JSON.stringify(all.body));
  assert.deepEqual(
    all.body.items.map((t: { key: string }) => t.key),
    [second, first],
    'exactly the caller’s tasks, both projects, -updatedAt',
  );

  const page1 = await list('&limit=1');
  assert.deepEqual(
    page1.body.items.map((t: { key: string }) => t.key),
    [second],
  );
  const page2 = await list(`&limit=1&cursor=${encodeURIComponent(page1.body.nextCursor)}`);
  assert.deepEqual(
    page2.body.items.map((t: { key: string }) => t.key),
    [first],
  );
  assert.equal(page2.body.nextCursor, null);

  const outsider = (await orgWithRoles(work, [])).owner;
  assertProblem(await list('', outsider), 404, 'NOT_FOUND');
});
