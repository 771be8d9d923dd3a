import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { mongoHarness, type Harness } from '@trellis/shared/testing';
import type { MongoRuntime } from '@trellis/shared';
import { EventFeed } from '../src/webhooks/feed.ts';
import { webhookModels, type WebhookModels } from '../src/webhooks/webhook.model.ts';
import type { PublicEvent } from '../src/webhooks/webhook.rules.ts';

let harness: Harness<MongoRuntime>;
let models: WebhookModels;
let feed: EventFeed;

before(async () => {
  harness = await mongoHarness('notify');
  models = await webhookModels(harness.runtime.connection);
  feed = new EventFeed(models);
});
after(() => harness.close());

const event = (orgId: string, n: number): PublicEvent => ({
  id: randomUUID(),
  type: 'task.created',
  occurredAt: new Date().toISOString(),
  orgId,
  actorId: null,
  subject: { kind: 'task', id: `t${n}` },
  data: { n },
});
const everything = async () => true;

test('an org’s events get seqs 1, 2, 3 … in the order appended; a redelivered event keeps its entry', async () => {
  const orgId = randomUUID();
  const events = Array.from({ length: 5 }, (_, n) => event(orgId, n));
  const entries = await Promise.all(events.map((e) => feed.append(e)));
  assert.deepEqual(
    entries.map((e) => e.seq),
    [1, 2, 3, 4, 5],
  );
  assert.equal((await feed.append(events[2]!)).seq, 3);
  // A second writer (another replica) that starts from the head hint probes past the taken seqs.
  const other = new EventFeed(models);
  assert.equal((await other.append(event(orgId, 6))).seq, 6);
  const page = await feed.page({ orgId, after: 0, types: null, limit: 10, visible: everything });
  assert.deepEqual(
    page.items.map((e) => e.data.n),
    [0, 1, 2, 3, 4, 6],
  );
});

test('a page stops before a missing seq that may still be written, and steps over one the retention sweep took', async () => {
  const orgId = randomUUID();
  const [, second, third] = await Promise.all([1, 2, 3].map((n) => feed.append(event(orgId, n))));
  await models.Feed.deleteOne({ _id: second!._id });
  // Seq 2 missing before a fresh seq 3: perhaps still being written — the page ends at 1.
  const fresh = await feed.page({ orgId, after: 0, types: null, limit: 10, visible: everything });
  assert.equal(fresh.position, 1);
  assert.equal(fresh.more, false);
  // Seq 3 written two minutes ago: seq 2 is gone for good — the page goes on past it.
  await models.Feed.updateOne({ _id: third!._id }, { $set: { recordedAt: new Date(Date.now() - 120_000) } });
  const settled = await feed.page({ orgId, after: 1, types: null, limit: 10, visible: everything });
  assert.deepEqual(
    settled.items.map((e) => e.data.n),
    [3],
  );
  assert.equal(settled.position, 3);
});
