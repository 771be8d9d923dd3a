import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import request from 'supertest';
import { collabEvents, governanceEvents } from '@trellis/shared';
import { waitFor } from '@trellis/shared/testing';
import { bucketOf, INBOX_BUCKET, seqOldNotifications } from '../src/notifications/notification.model.ts';
import { InboxService } from '../src/notifications/notifications.service.ts';
import { startNotify, testUser, type Notify, type TestUser } from './helpers.ts';

// The inbox reads a user's notifications a bucket of seqs at a time (notification.model.ts).

let notify: Notify;
let owner: TestUser;
let user: TestUser;
const orgId = randomUUID();
/** Announcements, newest last, as the user's inbox should list them newest first. */
const posted: string[] = [];
const TOTAL = 2 * INBOX_BUCKET + 7;

const get = (path: string) => request(notify.app).get(path).set(user.auth);

before(async () => {
  notify = await startNotify();
  owner = testUser(notify);
  user = testUser(notify);
  for (const who of [owner, user])
    await notify.publish(governanceEvents.memberAdded, 'governance', {
      orgId,
      data: { orgId, userId: who.id, role: 'MEMBER' },
    });
  await waitFor(() => notify.services.projection.reader.org(orgId, user.id), { what: 'membership' });
  // One subject: handled in the order published, so their seqs follow it.
  const subjectId = randomUUID();
  for (let i = 0; i < TOTAL; i += 1) {
    const announcementId = randomUUID();
    posted.push(announcementId);
    await notify.publish(collabEvents.announcementPosted, 'collab', {
      orgId,
      subjectId,
      actorId: owner.id,
      data: { announcementId, orgId, authorId: owner.id, title: `News ${i}`, body: '', pinned: false },
    });
  }
  // A liveness bound, not a speed check: on a fresh, busy CI stack notify took over 30 s for these.
  await waitFor(async () => (await get('/api/v1/notifications/unread-count')).body.count === TOTAL, {
    what: `${TOTAL} unread`,
    timeoutMs: 120_000,
  });
});

after(async () => {
  await notify.close();
});

async function walk(query: string): Promise<string[]> {
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page = await get(
      `/api/v1/notifications?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    assert.equal(page.status, 200);
    seen.push(...(page.body.items as Array<{ subject: { id: string } }>).map((n) => n.subject.id));
    cursor = page.body.nextCursor;
  } while (cursor);
  return seen;
}

test('pages across buckets list every notification once, newest first', async () => {
  const stored = await notify.services.models.Notification.find({ userId: user.id }).lean();
  assert.equal(stored.length, TOTAL);
  assert.deepEqual(
    stored.map((n) => n.seq).sort((a, b) => a - b),
    Array.from({ length: TOTAL }, (_, i) => i + 1),
    'dense seqs from the user channel',
  );
  for (const n of stored) assert.equal(n.bucket, bucketOf(user.id, n.seq));
  assert.deepEqual(await walk('limit=25'), [...posted].reverse());
  assert.deepEqual(await walk('limit=100'), [...posted].reverse(), 'one page');
});

test('the unread count follows reads and read-all; a lost counter is counted again', async () => {
  const newest = (await get('/api/v1/notifications?limit=3')).body.items as Array<{ id: string }>;
  for (const { id } of newest)
    assert.equal(
      (await request(notify.app).post(`/api/v1/notifications/${id}/read`).set(user.auth)).status,
      200,
    );
  // Reading one twice changes nothing.
  await request(notify.app).post(`/api/v1/notifications/${newest[0]!.id}/read`).set(user.auth);
  assert.deepEqual((await get('/api/v1/notifications/unread-count')).body, { count: TOTAL - 3 });
  const unread = await walk('limit=30&unread=true');
  assert.deepEqual(unread, [...posted].reverse().slice(3));

  await notify.services.models.InboxCounter.deleteOne({ _id: user.id });
  assert.deepEqual((await get('/api/v1/notifications/unread-count')).body, { count: TOTAL - 3 }, 'recounted');

  const all = await request(notify.app).post('/api/v1/notifications/read-all').set(user.auth).send({});
  assert.deepEqual(all.body, { updated: TOTAL - 3 });
  assert.deepEqual((await get('/api/v1/notifications/unread-count')).body, { count: 0 });
});

test('a filter that matches little ends a page short after its buckets, and the cursor goes on', async () => {
  const { models } = notify.services;
  const inbox = new InboxService({
    model: models.Notification,
    counts: { count: async () => 0, change: async () => undefined } as never,
    lastSeq: async () => TOTAL,
    maxBucketsPerPage: 1,
  });
  const otherOrg = randomUUID();
  await models.Notification.updateOne({ userId: user.id, seq: 1 }, { $set: { orgId: otherOrg } });
  const first = await inbox.list(user.id, { orgId: otherOrg, limit: 10 });
  assert.deepEqual(first.items, []);
  assert.ok(first.nextCursor, 'short page, more to read');
  let cursor: string | null = first.nextCursor;
  const found: string[] = [];
  while (cursor) {
    const page = await inbox.list(user.id, { orgId: otherOrg, limit: 10, cursor });
    found.push(...page.items.map((n) => n.subject.id));
    cursor = page.nextCursor;
  }
  assert.deepEqual(found, [posted[0]]);
});

test('notifications stored before seqs were kept get seqs once, oldest first, and are listed', async () => {
  const { Notification } = notify.services.models;
  const connection = notify.harness.runtime.connection;
  const earlier = testUser(notify);
  // What the earlier version left: notifications without seqs, each also on the user's channel.
  const oldIds = [randomUUID(), randomUUID(), randomUUID()];
  for (const id of oldIds)
    await notify.services.realtime.append(`user:${earlier.id}`, {
      id,
      type: 'notification.created',
      occurredAt: new Date().toISOString(),
      actorId: owner.id,
      data: {},
    });
  await Notification.collection.insertMany(
    oldIds.map((id, i) => ({
      _id: id as never,
      userId: earlier.id,
      orgId,
      type: 'announcement.posted',
      title: `Old news ${i}`,
      body: '',
      actorId: owner.id,
      subject: { kind: 'announcement', id },
      eventId: randomUUID(),
      read: false,
      readAt: null,
      createdAt: new Date(Date.now() - (10 - i) * 86_400_000),
    })),
  );
  await connection.collection('notify_migrations').deleteOne({ _id: 'inbox-seqs' as never });
  assert.equal(await seqOldNotifications(connection, Notification), 3);
  assert.equal(await seqOldNotifications(connection, Notification), 0, 'once');
  // Cut short before its marker, with one notification left without a seq: ranked again with the rest.
  await connection.collection('notify_migrations').deleteOne({ _id: 'inbox-seqs' as never });
  await Notification.collection.updateOne({ _id: oldIds[0] as never }, { $unset: { seq: 1, bucket: 1 } });
  assert.equal(await seqOldNotifications(connection, Notification), 3);
  const seqs = await Promise.all(oldIds.map(async (id) => (await Notification.findById(id).lean())?.seq));
  assert.deepEqual(seqs, [1, 2, 3], 'oldest first');
  const listed = await request(notify.app).get('/api/v1/notifications?limit=2').set(earlier.auth);
  assert.deepEqual(
    listed.body.items.map((n: { subject: { id: string } }) => n.subject.id),
    [oldIds[2], oldIds[1]],
  );
  const counted = await request(notify.app).get('/api/v1/notifications/unread-count').set(earlier.auth);
  assert.deepEqual(counted.body, { count: 3 });
  // Seqs of the other users' notifications are left as they were.
  assert.equal(await Notification.countDocuments({ userId: user.id, seq: { $gt: TOTAL } }), 0);
});
