import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { createEvent, createLogger, type EventBus } from '../src/index.ts';
import { testBus, testKafka, waitFor } from '../src/testing/index.ts';
import { TEST_TOPIC, noted } from './fixtures/test-events.ts';

const logger = createLogger('commit-test', process.env.TEST_LOG_LEVEL ?? 'silent');
const kafka = testKafka('commit');
let bus: EventBus;
let admin: Admin;

before(async () => {
  bus = await testBus(kafka, 'commit-test', logger, [TEST_TOPIC]);
  admin = new Kafka({
    clientId: 'commit-test-admin',
    brokers: kafka.brokers,
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
});

after(async () => {
  await admin.disconnect();
  await bus.close();
});

/** How many of the topic's messages the group has committed past (its offsets, summed over partitions). */
async function committed(groupId: string): Promise<number> {
  const [topic] = await admin.fetchOffsets({ groupId: bus.topic(groupId), topics: [bus.topic(TEST_TOPIC)] });
  return (topic?.partitions ?? []).reduce((sum, { offset }) => sum + Math.max(0, Number(offset)), 0);
}

test('offsets wait for beforeCommit: none pass while it is pending, a rejection keeps them for the next commit', async () => {
  const groupId = kafka.groupId('gated');
  const handled = new Set<string>();
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let calls = 0;
  const consumer = await bus.consume({
    groupId,
    topics: [TEST_TOPIC],
    handle: async ({ event }) => {
      handled.add(event.id);
    },
    beforeCommit: async () => {
      calls += 1;
      if (calls === 1) throw new Error('not yet'); // the first commit is refused outright
      await gate; // the later ones wait until the test lets them through
    },
  });
  await consumer.ready;
  const events = Array.from({ length: 3 }, (_, n) =>
    createEvent(noted, 'test', { subjectId: `gated-${n}`, data: { n, note: 'gated' } }),
  );
  await bus.publish(events.map((event) => ({ topic: TEST_TOPIC, event })));
  await waitFor(() => events.every((e) => handled.has(e.id)), { what: 'the three events handled' });

  // Commits run once a second: the refused one, then one that waits on the gate.
  await waitFor(() => calls >= 2, { what: 'a second commit attempt' });
  assert.equal(await committed(groupId), 0, 'nothing is committed while beforeCommit refuses or waits');

  release();
  await waitFor(async () => (await committed(groupId)) === 3, { what: 'the three offsets committed' });
  await consumer.stop();
});
