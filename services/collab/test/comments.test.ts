import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { collabEvents, governanceEvents, workEvents, type OutboxWriter } from '@trellis/shared';
import { assertProblem, envelopes, waitFor } from '@trellis/shared/testing';
import { CommentService } from '../src/comments/comments.service.ts';
import {
  api,
  newUser,
  orgWithRoles,
  projectOf,
  publish,
  published,
  startCollab,
  taskOf,
  walk,
  type Collab,
  type TestUser,
} from './helpers.ts';

let collab: Collab;

before(async () => {
  collab = await startCollab();
});

after(() => collab.close());

/** An org with a PRIVATE project (MEMBER is a CONTRIBUTOR, MANAGER its MANAGER) and a task in it. */
async function privateTask() {
  const org = await orgWithRoles(collab);
  const project = await projectOf(collab, org, {
    visibility: 'PRIVATE',
    members: [
      [org.MEMBER, 'CONTRIBUTOR'],
      [org.MANAGER, 'MANAGER'],
    ],
  });
  const task = await taskOf(collab, project, org.MEMBER);
  return { org, project, task };
}

const comment = (user: TestUser, taskId: string, body: string) =>
  api(collab.app).post('/api/v1/comments').set(user.auth).send({ taskId, body });

test('a comment is created with its mentions filtered by access, published, and listed oldest first', async () => {
  const { org, project, task } = await privateTask();
  const stranger = newUser(collab);
  // VIEWER is in the org but not in the PRIVATE project; the stranger is in neither.
  const body = `Ping <@${org.VIEWER.id}> <@${org.owner.id}> <@${stranger.id}> <@${org.MANAGER.id}> <@${org.owner.id}>`;
  const created = await comment(org.MEMBER, task.taskId, body);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.headers.location, `/api/v1/comments/${created.body.id}`);
  const located = await api(collab.app).get(created.headers.location!).set(org.MEMBER.auth);
  assert.equal(located.status, 200, 'the Location answers GET');
  assert.deepEqual(located.body, created.body);
  assert.equal(located.headers.etag, created.headers.etag);
  const outsider = await api(collab.app).get(created.headers.location!).set(org.VIEWER.auth);
  assert.equal(outsider.status, 404, 'not to someone who cannot see the private task');
  assert.deepEqual(
    { ...created.body, id: undefined, createdAt: undefined },
    {
      id: undefined,
      createdAt: undefined,
      taskId: task.taskId,
      projectId: project.projectId,
      orgId: org.orgId,
      authorId: org.MEMBER.id,
      body,
      mentions: [org.owner.id, org.MANAGER.id],
      editedAt: null,
      deleted: false,
      version: 1,
    },
  );

  const event = await published(collab, collabEvents.commentCreated, (d) => d.commentId === created.body.id);
  assert.equal(event.subjectId, task.taskId, 'keyed by task');
  assert.equal(event.orgId, org.orgId);
  assert.equal(event.actorId, org.MEMBER.id);
  assert.deepEqual(event.data.mentions, [org.owner.id, org.MANAGER.id]);
  assert.equal(event.data.body, body);

  const second = await comment(org.MANAGER, task.taskId, 'second');
  const third = await comment(org.owner, task.taskId, 'third');
  const all = [created.body.id, second.body.id, third.body.id];
  const first = await api(collab.app)
    .get('/api/v1/comments')
    .query({ taskId: task.taskId, limit: '2' })
    .set(org.MEMBER.auth);
  assert.equal(first.status, 200);
  assert.deepEqual(
    first.body.items.map((c: { id: string }) => c.id),
    all.slice(0, 2),
  );
  assert.equal(typeof first.body.nextCursor, 'string');
  assert.deepEqual(await walk(collab, org.MEMBER, '/api/v1/comments', { taskId: task.taskId }, 2), all);
  assert.deepEqual(await walk(collab, org.owner, '/api/v1/comments', { taskId: task.taskId }, 50), all);
});

test('strangers and users who cannot see the task get 404; a VIEWER may read but not comment', async () => {
  const org = await orgWithRoles(collab);
  const project = await projectOf(collab, org, { members: [[org.MEMBER, 'CONTRIBUTOR']] });
  const task = await taskOf(collab, project, org.MEMBER);
  const other = await privateTask();
  const stranger = newUser(collab);

  assertProblem(await comment(stranger, task.taskId, 'hi'), 404, 'NOT_FOUND');
  assertProblem(
    await api(collab.app).get('/api/v1/comments').query({ taskId: task.taskId }).set(stranger.auth),
    404,
    'NOT_FOUND',
  );
  // A member of another org, and an org member outside a PRIVATE project, see nothing either.
  assertProblem(await comment(org.MEMBER, other.task.taskId, 'hi'), 404, 'NOT_FOUND');
  assertProblem(await comment(other.org.VIEWER, other.task.taskId, 'hi'), 404, 'NOT_FOUND');
  assertProblem(await comment(org.MEMBER, '8f8f8f8f-8f8f-4f8f-8f8f-8f8f8f8f8f8f', 'hi'), 404, 'NOT_FOUND');

  // In an ORG-visible project the org VIEWER is a project VIEWER: below comment.create (CONTRIBUTOR).
  const denied = await comment(org.VIEWER, task.taskId, 'hi');
  assertProblem(denied, 403, 'POLICY_DENIED');
  assert.deepEqual(denied.body.policy, {
    scope: 'project',
    action: 'comment.create',
    requiredRole: 'CONTRIBUTOR',
    yourRole: 'VIEWER',
  });
  const read = await api(collab.app)
    .get('/api/v1/comments')
    .query({ taskId: task.taskId })
    .set(org.VIEWER.auth);
  assert.equal(read.status, 200);
  assert.deepEqual(read.body, { items: [], nextCursor: null });
});

test('only the author edits; the edit sets editedAt and publishes the newly mentioned users', async () => {
  const { org, task } = await privateTask();
  const created = await comment(org.MEMBER, task.taskId, `hello <@${org.owner.id}>`);
  assert.equal(created.status, 201);
  const id = created.body.id as string;

  const notAuthor = await api(collab.app)
    .patch(`/api/v1/comments/${id}`)
    .set(org.MANAGER.auth)
    .send({ body: 'hijack' });
  assertProblem(notAuthor, 403, 'FORBIDDEN');

  const newBody = `hello <@${org.owner.id}> and <@${org.MANAGER.id}> (not <@${org.VIEWER.id}>)`;
  const edited = await api(collab.app)
    .patch(`/api/v1/comments/${id}`)
    .set(org.MEMBER.auth)
    .send({ body: newBody });
  assert.equal(edited.status, 200, JSON.stringify(edited.body));
  assert.equal(edited.body.body, newBody);
  assert.deepEqual(edited.body.mentions, [org.owner.id, org.MANAGER.id]);
  assert.ok(edited.body.editedAt);
  assert.ok(edited.body.editedAt >= edited.body.createdAt);

  const event = await published(collab, collabEvents.commentUpdated, (d) => d.commentId === id);
  assert.deepEqual(event.data.addedMentions, [org.MANAGER.id]);
  assert.deepEqual(event.data.mentions, [org.owner.id, org.MANAGER.id]);
  assert.equal(event.data.editedAt, edited.body.editedAt);

  const listed = await api(collab.app)
    .get('/api/v1/comments')
    .query({ taskId: task.taskId })
    .set(org.owner.auth);
  assert.equal(listed.body.items[0].body, newBody);
});

test('a comment carries version and ETag; an edit with a stale If-Match is 412 and changes nothing', async () => {
  const { org, task } = await privateTask();
  const created = await comment(org.MEMBER, task.taskId, 'first');
  assert.equal(created.body.version, 1);
  assert.equal(created.headers.etag, '"1"');
  const edit = (body: string, ifMatch?: string) => {
    const req = api(collab.app).patch(`/api/v1/comments/${created.body.id}`).set(org.MEMBER.auth);
    return (ifMatch ? req.set('If-Match', ifMatch) : req).send({ body });
  };

  const second = await edit('second', '"1"');
  assert.equal(second.status, 200, JSON.stringify(second.body));
  assert.equal(second.body.version, 2);
  assert.equal(second.headers.etag, '"2"');
  assertProblem(await edit('lost update', '"1"'), 412, 'PRECONDITION_FAILED');
  const third = await edit('third'); // no If-Match: the last edit wins
  assert.equal(third.body.version, 3);

  const listed = await api(collab.app)
    .get('/api/v1/comments')
    .query({ taskId: task.taskId })
    .set(org.MEMBER.auth);
  assert.deepEqual(
    listed.body.items.map((c: { body: string; version: number }) => [c.body, c.version]),
    [['third', 3]],
  );
});

test('the author or comment.moderate deletes; the body is removed and a placeholder stays', async () => {
  const { org, task } = await privateTask();
  const byMember = await comment(org.MEMBER, task.taskId, `secret <@${org.owner.id}>`);
  const byManager = await comment(org.MANAGER, task.taskId, 'manager note');
  const id = byMember.body.id as string;

  // A CONTRIBUTOR may not moderate others (comment.moderate defaults to MANAGER).
  const denied = await api(collab.app).delete(`/api/v1/comments/${byManager.body.id}`).set(org.MEMBER.auth);
  assertProblem(denied, 403, 'POLICY_DENIED');
  assert.deepEqual(denied.body.policy, {
    scope: 'project',
    action: 'comment.moderate',
    requiredRole: 'MANAGER',
    yourRole: 'CONTRIBUTOR',
  });

  // The project MANAGER moderates the member's comment.
  const moderated = await api(collab.app).delete(`/api/v1/comments/${id}`).set(org.MANAGER.auth);
  assert.equal(moderated.status, 204);
  const event = await published(collab, collabEvents.commentDeleted, (d) => d.commentId === id);
  assert.equal(event.actorId, org.MANAGER.id);
  assert.equal(event.data.authorId, org.MEMBER.id);
  assert.equal('body' in event.data, false);

  // The author deletes their own.
  assert.equal(
    (await api(collab.app).delete(`/api/v1/comments/${byManager.body.id}`).set(org.MANAGER.auth)).status,
    204,
  );

  const listed = await api(collab.app)
    .get('/api/v1/comments')
    .query({ taskId: task.taskId })
    .set(org.MEMBER.auth);
  assert.deepEqual(
    listed.body.items.map((c: { id: string; body: string; mentions: string[]; deleted: boolean }) => [
      c.id,
      c.body,
      c.mentions,
      c.deleted,
    ]),
    [
      [id, '', [], true],
      [byManager.body.id, '', [], true],
    ],
  );
  const stored = await collab.models.Comment.findById(id).lean();
  assert.equal(stored?.body, '', 'the body is gone from storage');
  assert.equal(stored?.deletedBy, org.MANAGER.id);

  // A deleted comment can be neither edited nor deleted again.
  assertProblem(
    await api(collab.app).patch(`/api/v1/comments/${id}`).set(org.MEMBER.auth).send({ body: 'back' }),
    404,
    'NOT_FOUND',
  );
  assertProblem(
    await api(collab.app).delete(`/api/v1/comments/${id}`).set(org.MEMBER.auth),
    404,
    'NOT_FOUND',
  );
});

test('a comment on a task the caller can no longer see is a 404', async () => {
  const { org, project, task } = await privateTask();
  const created = await comment(org.MEMBER, task.taskId, 'mine');
  const id = created.body.id as string;

  // Removed from the PRIVATE project: the task, its thread and the comment are gone for them.
  await publish(collab, workEvents.projectMemberRemoved, {
    subjectId: project.projectId,
    orgId: org.orgId,
    data: { projectId: project.projectId, orgId: org.orgId, userId: org.MEMBER.id },
  });
  await waitFor(
    async () => (await collab.services.projection.reader.project(project.projectId, org.MEMBER.id)) === null,
    {
      what: 'the removal',
    },
  );
  assertProblem(
    await api(collab.app).patch(`/api/v1/comments/${id}`).set(org.MEMBER.auth).send({ body: 'edit' }),
    404,
    'NOT_FOUND',
  );
  assertProblem(
    await api(collab.app).delete(`/api/v1/comments/${id}`).set(org.MEMBER.auth),
    404,
    'NOT_FOUND',
  );
  assertProblem(
    await api(collab.app).get('/api/v1/comments').query({ taskId: task.taskId }).set(org.MEMBER.auth),
    404,
    'NOT_FOUND',
  );

  // A deleted task takes its thread with it, for everyone.
  await publish(collab, workEvents.taskDeleted, {
    subjectId: task.taskId,
    orgId: org.orgId,
    data: {
      taskId: task.taskId,
      orgId: org.orgId,
      projectId: project.projectId,
      key: task.key,
      subtaskIds: [],
    },
  });
  await waitFor(async () => (await collab.services.projection.reader.taskRow(task.taskId))?.deleted, {
    what: 'the task deletion',
  });
  assertProblem(
    await api(collab.app).get('/api/v1/comments').query({ taskId: task.taskId }).set(org.owner.auth),
    404,
    'NOT_FOUND',
  );

  // A deleted org hides everything inside it.
  const other = await privateTask();
  await publish(collab, governanceEvents.orgDeleted, {
    subjectId: other.org.orgId,
    orgId: other.org.orgId,
    data: { orgId: other.org.orgId },
  });
  await waitFor(
    async () => (await collab.services.projection.reader.org(other.org.orgId, other.org.owner.id)) === null,
    {
      what: 'the org deletion',
    },
  );
  assertProblem(await comment(other.org.owner, other.task.taskId, 'hi'), 404, 'NOT_FOUND');
});

test('malformed input answers 400 problems naming each field, never 500', async () => {
  const { org, task } = await privateTask();
  const check = async (
    res: { status: number; headers: Record<string, string>; body: Record<string, unknown> },
    paths: string[],
  ) => {
    assertProblem(res, 400, 'VALIDATION_FAILED');
    const reported = (res.body.errors as { path: string }[]).map((e) => e.path);
    for (const path of paths) assert.ok(reported.includes(path), `${path} in ${JSON.stringify(reported)}`);
  };
  await check(await comment(org.MEMBER, task.taskId, ''), ['body.body']);
  await check(await comment(org.MEMBER, task.taskId, '   '), ['body.body']);
  await check(await comment(org.MEMBER, task.taskId, 'x'.repeat(10_001)), ['body.body']);
  await check(await comment(org.MEMBER, 'not-a-uuid', 'hi'), ['body.taskId']);
  await check(await api(collab.app).post('/api/v1/comments').set(org.MEMBER.auth).send({}), [
    'body.taskId',
    'body.body',
  ]);
  await check(
    await api(collab.app)
      .post('/api/v1/comments')
      .set(org.MEMBER.auth)
      .send({ taskId: task.taskId, body: 42 }),
    ['body.body'],
  );
  await check(await api(collab.app).get('/api/v1/comments').set(org.MEMBER.auth), ['query.taskId']);
  for (const [query, field] of [
    [{ limit: '0' }, 'query.limit'],
    [{ limit: '101' }, 'query.limit'],
    [{ cursor: 'garbage' }, 'query.cursor'],
  ] as const) {
    const listed = await api(collab.app)
      .get('/api/v1/comments')
      .query({ taskId: task.taskId, ...query })
      .set(org.MEMBER.auth);
    await check(listed, [field]);
  }
  await check(await api(collab.app).patch('/api/v1/comments/nope').set(org.MEMBER.auth).send({ body: 'x' }), [
    'params.id',
  ]);
  await check(await api(collab.app).delete('/api/v1/comments/nope').set(org.MEMBER.auth), ['params.id']);
  // A 10 000-character body is fine.
  assert.equal((await comment(org.MEMBER, task.taskId, 'x'.repeat(10_000))).status, 201);
});

test('an event staged with its write survives a crash before its commit: the sweep sends it', async () => {
  const { org, task } = await privateTask();
  // The process "dies" right after the document write: the events stay staged, never committed.
  const crashing: OutboxWriter = {
    write: async (model, id, events, write) => write((await collab.outbox.stage(model, id, events)).mark),
  };
  const service = new CommentService({
    Comment: collab.models.Comment,
    access: collab.services.access,
    outbox: crashing,
  });
  const view = await service.create(
    { id: org.MEMBER.id, authorization: undefined },
    { taskId: task.taskId, body: 'written, then the crash' },
  );
  // The sweep finds the write on the document (its rev) and publishes the orphaned event.
  const event = await published(collab, collabEvents.commentCreated, (d) => d.commentId === view.id);
  assert.equal(event.data.body, 'written, then the crash');
  await waitFor(async () => (await collab.connection.collection('outbox').countDocuments({})) === 0, {
    what: 'the outbox emptied',
  });
});

test('edits and a deletion racing the relay all land, each event once and in order', async () => {
  const { org, task } = await privateTask();
  const created = await comment(org.MEMBER, task.taskId, 'v0');
  assert.equal(created.status, 201);
  const id = created.body.id as string;
  // Each edit is written while the relay is still publishing the previous one's event.
  for (let n = 1; n <= 10; n += 1) {
    const edited = await api(collab.app)
      .patch(`/api/v1/comments/${id}`)
      .set(org.MEMBER.auth)
      .send({ body: `v${n}` });
    assert.equal(edited.status, 200);
  }
  assert.equal((await api(collab.app).delete(`/api/v1/comments/${id}`).set(org.MEMBER.auth)).status, 204);
  assert.equal((await api(collab.app).delete(`/api/v1/comments/${id}`).set(org.MEMBER.auth)).status, 404);

  const ofComment = (type: string) =>
    envelopes(collab.reader, collabEvents.commentUpdated.topic).filter(
      (e) => e.type === type && e.data.commentId === id,
    );
  await published(collab, collabEvents.commentDeleted, (d) => d.commentId === id);
  assert.deepEqual(
    ofComment(collabEvents.commentUpdated.type).map((e) => e.data.body),
    Array.from({ length: 10 }, (_, i) => `v${i + 1}`),
    'every edit published once, in order',
  );
  const stored = await collab.models.Comment.findById(id).lean<Record<string, unknown>>();
  assert.equal(stored?.deleted, true, 'the deletion was not undone by the relay');
  await waitFor(async () => (await collab.connection.collection('outbox').countDocuments({})) === 0, {
    what: 'the outbox emptied',
  });
  assert.equal(ofComment(collabEvents.commentDeleted.type).length, 1, 'the 404 delete published nothing');
});
