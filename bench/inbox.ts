// npm run bench:inbox — inbox reads against the local MongoDB-wire server at a given size.
// Seeds BENCH_NOTIFICATIONS (default 20 000) notifications shaped like notify's, spread over
// BENCH_USERS (default 100) users, with notify's indexes, into a fresh database; then times, one
// client, one call at a time: a user's newest page (21), their unread count, a find, an update, an
// insert and an upsert by `_id` — the inbox's reads as notify makes them (a page: the newest
// buckets; the count: the user's counter document) and, for comparison, as it made them before (a
// filter on the user, sorted and limited; a count of their unread). Prints p50/p99 of each; drops
// the database. Figures, not assertions.
// The store alone: the documents are written straight into it (200 000 through the event path would
// take the better part of an hour here), so this measures reads at a size and nothing deferred;
// `bench:events` measures the event path and its consumers.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import mongoose from 'mongoose';
import { downStarted, up } from '../infra/local/stack.ts';
import { endpoints } from '../infra/local/config.ts';
import { bucketOf, INBOX_BUCKET } from '../services/notify/src/notifications/notification.model.ts';

const total = Number(process.env.BENCH_NOTIFICATIONS ?? 20_000);
const users = Number(process.env.BENCH_USERS ?? 100);

const started = new Set<string>();
await up(started);
const client = new mongoose.mongo.MongoClient(endpoints.mongoUrl);
await client.connect();
const db = client.db(`bench_inbox_${process.pid}`);
try {
  const notifications = db.collection<{
    _id: string;
    userId: string;
    seq?: number;
    bucket?: string;
    read: boolean;
    createdAt: Date;
  }>('notifications');
  const counters = db.collection<{ _id: string; unread: number; version: number; countedAt: Date }>(
    'inbox_counters',
  );
  // notify's indexes (services/notify/src/notifications/notification.model.ts), before the data as
  // there; and the one the old shape's page used.
  await notifications.createIndex({ bucket: 1, seq: -1 });
  await notifications.createIndex({ userId: 1, read: 1 });
  await notifications.createIndex({ userId: 1, createdAt: -1, _id: -1 });
  const began = performance.now();
  const oldest = Date.now() - total * 1000;
  for (let start = 0; start < total; start += 1000) {
    const batch = [];
    for (let n = start; n < Math.min(start + 1000, total); n++) {
      batch.push({
        _id: `event-${n}:user-${n % users}`,
        userId: `user-${n % users}`,
        seq: Math.floor(n / users) + 1,
        bucket: bucketOf(`user-${n % users}`, Math.floor(n / users) + 1),
        orgId: 'org',
        type: 'task.assigned',
        title: `Ada assigned you CORE-${n}`,
        body: '',
        subject: { kind: 'task', id: `task-${n}` },
        actorId: 'ada',
        eventId: `event-${n}`,
        read: n % 3 === 0,
        readAt: null,
        createdAt: new Date(oldest + n * 1000),
      });
    }
    await notifications.insertMany(batch);
  }
  const perUser = Math.ceil(total / users);
  await counters.insertMany(
    Array.from({ length: users }, (_, u) => ({
      _id: `user-${u}`,
      unread: Math.round((perUser * 2) / 3),
      version: 0,
      countedAt: new Date(),
    })),
  );
  console.log(
    `${total} notifications over ${users} users (${Math.round(total / users)} each) inserted in ${((performance.now() - began) / 1000).toFixed(1)} s`,
  );
  await sleep(2_000); // the local FerretDB's index keeper runs once a second

  const time = async (name: string, calls: number, call: (i: number) => Promise<unknown>) => {
    const took: number[] = [];
    for (let i = 0; i < calls; i++) {
      const start = performance.now();
      await call(i);
      took.push(performance.now() - start);
    }
    took.sort((a, b) => a - b);
    const at = (q: number) => took[Math.min(took.length - 1, Math.floor(took.length * q))]!.toFixed(2);
    console.log(`${name.padEnd(28)} p50 ${at(0.5).padStart(8)} ms   p99 ${at(0.99).padStart(8)} ms`);
  };
  const user = (i: number) => `user-${(i * 7) % users}`;
  // The newest seq is known (the user's channel); a page of 21 spans its bucket and the one before.
  const newest = Math.floor(perUser / INBOX_BUCKET);
  await time('page of 21: newest buckets', 50, async (i) => {
    for (const b of [newest, newest - 1]) await notifications.find({ bucket: `${user(i)}:${b}` }).toArray();
  });
  await time('unread count: counter', 50, (i) => counters.findOne({ _id: user(i) }));
  await time('page of 21: old shape', 50, (i) =>
    notifications
      .find({ userId: user(i) })
      .sort({ createdAt: -1, _id: -1 })
      .limit(21)
      .toArray(),
  );
  await time('unread count: old shape', 50, (i) =>
    notifications.countDocuments({ userId: user(i), read: false }),
  );
  await time('find by _id', 200, (i) =>
    notifications.findOne({ _id: `event-${i * 7}:user-${(i * 7) % users}` }),
  );
  await time('update by _id', 200, (i) =>
    notifications.updateOne({ _id: `event-${i * 11}:user-${(i * 11) % users}` }, { $set: { read: true } }),
  );
  await time('insert', 200, (i) =>
    notifications.insertOne({ _id: `new-${i}`, userId: 'user-1', read: false, createdAt: new Date() }),
  );
  await time('upsert by _id', 200, (i) =>
    notifications.updateOne({ _id: `upsert-${i}` }, { $set: { read: false } }, { upsert: true }),
  );
} finally {
  await db.dropDatabase();
  await client.close();
  await downStarted(started);
}
