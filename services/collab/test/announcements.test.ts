import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { collabEvents, governanceEvents } from '@trellis/shared';
import { assertProblem, waitFor } from '@trellis/shared/testing';
import {
  api,
  newUser,
  orgWithRoles,
  publish,
  published,
  startCollab,
  walk,
  type Collab,
  type TestUser,
} from './helpers.ts';

let collab: Collab;

before(async () => {
  collab = await startCollab();
});

after(() => collab.close());

const announce = (user: TestUser, body: Record<string, unknown>) =>
  api(collab.app).post('/api/v1/announcements').set(user.auth).send(body);

test('posting needs announcement.post; the board lists pinned first, then newest, in keyset pages', async () => {
  const org = await orgWithRoles(collab);
  const denied = await announce(org.MEMBER, { orgId: org.orgId, title: 'Hi', body: 'all' });
  assertProblem(denied, 403, 'POLICY_DENIED');
  assert.deepEqual(denied.body.policy, {
    scope: 'org',
    action: 'announcement.post',
    requiredRole: 'ADMIN',
    yourRole: 'MEMBER',
  });
  assertProblem(
    await announce(newUser(collab), { orgId: org.orgId, title: 'Hi', body: 'x' }),
    404,
    'NOT_FOUND',
  );

  const created = await announce(org.ADMIN, {
    orgId: org.orgId,
    title: '  Welcome  ',
    body: '**Hello** all',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.headers.location, `/api/v1/announcements/${created.body.id}`);
  assert.equal(created.headers.etag, '"1"');
  assert.equal(created.body.title, 'Welcome');
  assert.equal(created.body.pinned, false);
  assert.equal(created.body.version, 1);
  assert.equal(created.body.authorId, org.ADMIN.id);
  const posted = await published(
    collab,
    collabEvents.announcementPosted,
    (d) => d.announcementId === created.body.id,
  );
  assert.deepEqual(posted.data, {
    announcementId: created.body.id,
    orgId: org.orgId,
    authorId: org.ADMIN.id,
    title: 'Welcome',
    body: '**Hello** all',
    pinned: false,
  });
  assert.equal(posted.subjectId, created.body.id);

  const a = created.body.id as string;
  const b = (await announce(org.owner, { orgId: org.orgId, title: 'B', body: 'b', pinned: true })).body.id;
  const c = (await announce(org.ADMIN, { orgId: org.orgId, title: 'C', body: 'c' })).body.id;
  const d = (await announce(org.owner, { orgId: org.orgId, title: 'D', body: 'd', pinned: true })).body.id;
  const order = [d, b, c, a];
  const list = await api(collab.app)
    .get('/api/v1/announcements')
    .query({ orgId: org.orgId })
    .set(org.VIEWER.auth);
  assert.equal(list.status, 200);
  assert.deepEqual(
    list.body.items.map((x: { id: string }) => x.id),
    order,
  );
  assert.equal(list.body.nextCursor, null);
  for (const limit of [1, 3])
    assert.deepEqual(
      await walk(collab, org.VIEWER, '/api/v1/announcements', { orgId: org.orgId }, limit),
      order,
    );

  // Another org's board is not ours to read.
  const other = await orgWithRoles(collab);
  assertProblem(
    await api(collab.app).get('/api/v1/announcements').query({ orgId: other.orgId }).set(org.owner.auth),
    404,
    'NOT_FOUND',
  );
  assertProblem(
    await api(collab.app).get(`/api/v1/announcements/${a}`).set(other.owner.auth),
    404,
    'NOT_FOUND',
  );
});

test('the author or an org ADMIN+ edits and deletes, honouring If-Match', async () => {
  const org = await orgWithRoles(collab);
  const created = await announce(org.ADMIN, { orgId: org.orgId, title: 'Plan', body: 'v1' });
  const id = created.body.id as string;
  const path = `/api/v1/announcements/${id}`;

  // The author, since demoted to MEMBER, still edits their own; another MEMBER may not.
  await publish(collab, governanceEvents.memberRoleChanged, {
    subjectId: org.orgId,
    orgId: org.orgId,
    data: { orgId: org.orgId, userId: org.ADMIN.id, from: 'ADMIN', to: 'MEMBER' },
  });
  await waitFor(
    async () => (await collab.services.projection.reader.org(org.orgId, org.ADMIN.id))?.role === 'MEMBER',
    {
      what: 'the demotion',
    },
  );
  const denied = await api(collab.app).patch(path).set(org.MEMBER.auth).send({ title: 'Mine' });
  assertProblem(denied, 403, 'POLICY_DENIED');
  assert.deepEqual(denied.body.policy, {
    scope: 'org',
    action: 'announcement.update',
    requiredRole: 'ADMIN',
    yourRole: 'MEMBER',
  });
  assertProblem(await api(collab.app).delete(path).set(org.MANAGER.auth), 403, 'POLICY_DENIED');

  const byAuthor = await api(collab.app)
    .patch(path)
    .set(org.ADMIN.auth)
    .set('If-Match', '"1"')
    .send({ body: 'v2' });
  assert.equal(byAuthor.status, 200, JSON.stringify(byAuthor.body));
  assert.equal(byAuthor.headers.etag, '"2"');
  assert.equal(byAuthor.body.body, 'v2');
  assert.equal(byAuthor.body.version, 2);
  assert.ok(byAuthor.body.updatedAt >= byAuthor.body.createdAt);

  // A stale If-Match is refused and changes nothing.
  const stale = await api(collab.app)
    .patch(path)
    .set(org.owner.auth)
    .set('If-Match', '"1"')
    .send({ pinned: true });
  assertProblem(stale, 412, 'PRECONDITION_FAILED');
  const current = await api(collab.app).get(path).set(org.VIEWER.auth);
  assert.equal(current.status, 200);
  assert.equal(current.headers.etag, '"2"');
  assert.equal(current.body.pinned, false);

  const byOwner = await api(collab.app)
    .patch(path)
    .set(org.owner.auth)
    .set('If-Match', current.headers.etag ?? '')
    .send({ pinned: true, title: 'Plan (pinned)' });
  assert.equal(byOwner.status, 200);
  assert.deepEqual(
    [byOwner.body.version, byOwner.body.pinned, byOwner.body.title],
    [3, true, 'Plan (pinned)'],
  );
  const updated = await published(
    collab,
    collabEvents.announcementUpdated,
    (d) => d.announcementId === id && d.pinned === true,
  );
  assert.deepEqual(updated.data, {
    announcementId: id,
    orgId: org.orgId,
    authorId: org.ADMIN.id,
    title: 'Plan (pinned)',
    body: 'v2',
    pinned: true,
  });
  assert.equal(updated.actorId, org.owner.id);

  // Without If-Match the edit simply applies to the current version.
  assert.equal(
    (await api(collab.app).patch(path).set(org.ADMIN.auth).send({ pinned: false })).body.version,
    4,
  );

  assert.equal((await api(collab.app).delete(path).set(org.owner.auth)).status, 204);
  const deleted = await published(collab, collabEvents.announcementDeleted, (d) => d.announcementId === id);
  assert.deepEqual(deleted.data, { announcementId: id, orgId: org.orgId });
  assertProblem(await api(collab.app).get(path).set(org.owner.auth), 404, 'NOT_FOUND');
  assertProblem(await api(collab.app).patch(path).set(org.owner.auth).send({ body: 'x' }), 404, 'NOT_FOUND');
  assertProblem(await api(collab.app).delete(path).set(org.owner.auth), 404, 'NOT_FOUND');
  const list = await api(collab.app)
    .get('/api/v1/announcements')
    .query({ orgId: org.orgId })
    .set(org.owner.auth);
  assert.deepEqual(list.body.items, []);
});

test('read receipts: idempotent per reader, counted among current members, visible to ADMIN+ only', async () => {
  const org = await orgWithRoles(collab);
  const id = (await announce(org.owner, { orgId: org.orgId, title: 'Read me', body: 'please' })).body
    .id as string;
  const read = (user: TestUser) => api(collab.app).post(`/api/v1/announcements/${id}/read`).set(user.auth);

  const first = await read(org.MEMBER);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.deepEqual(Object.keys(first.body).sort(), ['announcementId', 'readAt', 'userId']);
  assert.equal(first.body.userId, org.MEMBER.id);
  const again = await read(org.MEMBER);
  assert.equal(again.body.readAt, first.body.readAt, 'the first readAt stays');
  const together = await Promise.all([read(org.VIEWER), read(org.VIEWER)]);
  assert.deepEqual(
    together.map((r) => r.status),
    [200, 200],
  );
  assert.equal(together[0].body.readAt, together[1].body.readAt);
  assertProblem(await read(newUser(collab)), 404, 'NOT_FOUND');

  const reads = (user: TestUser) => api(collab.app).get(`/api/v1/announcements/${id}/reads`).set(user.auth);
  const denied = await reads(org.MANAGER);
  assertProblem(denied, 403, 'POLICY_DENIED');
  assert.deepEqual(denied.body.policy, {
    scope: 'org',
    action: 'announcement.readReceipts',
    requiredRole: 'ADMIN',
    yourRole: 'MANAGER',
  });
  const seen = await reads(org.ADMIN);
  assert.equal(seen.status, 200);
  assert.deepEqual(seen.body, {
    readCount: 2,
    memberCount: 5,
    readers: [
      { userId: org.MEMBER.id, readAt: first.body.readAt },
      { userId: org.VIEWER.id, readAt: together[0].body.readAt },
    ],
  });

  // A member who leaves drops out of both counts.
  await publish(collab, governanceEvents.memberRemoved, {
    subjectId: org.orgId,
    orgId: org.orgId,
    data: { orgId: org.orgId, userId: org.VIEWER.id, reason: 'left' },
  });
  await waitFor(
    async () => (await collab.services.projection.reader.org(org.orgId, org.VIEWER.id)) === null,
    {
      what: 'the departure',
    },
  );
  const after = await reads(org.owner);
  assert.deepEqual(after.body, {
    readCount: 1,
    memberCount: 4,
    readers: [{ userId: org.MEMBER.id, readAt: first.body.readAt }],
  });
  assert.equal(
    await collab.models.AnnouncementRead.countDocuments({ announcementId: id }),
    2,
    'receipts are kept',
  );
});

test('malformed announcement input answers 400 problems naming each field', async () => {
  const org = await orgWithRoles(collab);
  const id = (await announce(org.owner, { orgId: org.orgId, title: 'T', body: 'B' })).body.id as string;
  const check = async (
    res: { status: number; headers: Record<string, string>; body: Record<string, unknown> },
    paths: string[],
  ) => {
    assertProblem(res, 400, 'VALIDATION_FAILED');
    const reported = (res.body.errors as { path: string }[]).map((e) => e.path);
    for (const path of paths) assert.ok(reported.includes(path), `${path} in ${JSON.stringify(reported)}`);
  };
  await check(await announce(org.owner, {}), ['body.orgId', 'body.title', 'body.body']);
  await check(await announce(org.owner, { orgId: org.orgId, title: 'x'.repeat(201), body: 'b' }), [
    'body.title',
  ]);
  await check(await announce(org.owner, { orgId: org.orgId, title: '   ', body: 'b' }), ['body.title']);
  await check(await announce(org.owner, { orgId: org.orgId, title: 't', body: 'x'.repeat(10_001) }), [
    'body.body',
  ]);
  await check(await announce(org.owner, { orgId: org.orgId, title: 't', body: 'b', pinned: 'yes' }), [
    'body.pinned',
  ]);
  await check(await api(collab.app).get('/api/v1/announcements').set(org.owner.auth), ['query.orgId']);
  await check(await api(collab.app).get('/api/v1/announcements/abc').set(org.owner.auth), ['params.id']);
  await check(await api(collab.app).patch(`/api/v1/announcements/${id}`).set(org.owner.auth).send({}), [
    'body',
  ]);
  await check(await api(collab.app).post('/api/v1/announcements/abc/read').set(org.owner.auth), [
    'params.id',
  ]);
  await check(await api(collab.app).get('/api/v1/announcements/abc/reads').set(org.owner.auth), [
    'params.id',
  ]);
  await check(
    await api(collab.app)
      .get('/api/v1/announcements')
      .query({ orgId: org.orgId, cursor: Buffer.from('{"pinned":"no"}').toString('base64url') })
      .set(org.owner.auth),
    ['query.cursor'],
  );
  assertProblem(
    await api(collab.app)
      .get('/api/v1/announcements/8f8f8f8f-8f8f-4f8f-8f8f-8f8f8f8f8f8f')
      .set(org.owner.auth),
    404,
    'NOT_FOUND',
  );
});
