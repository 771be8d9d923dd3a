import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createEvent, createLogger, type EventBus, type GroupMembership } from '../src/index.ts';
import { testBus, testKafka, waitFor } from '../src/testing/index.ts';
import { TEST_TOPIC, noted } from './fixtures/test-events.ts';

const logger = createLogger('membership-test', process.env.TEST_LOG_LEVEL ?? 'silent');
const kafka = testKafka('membership');
let bus: EventBus;

before(async () => {
  bus = await testBus(kafka, 'membership-test', logger, [TEST_TOPIC]);
});

after(async () => {
  await bus.close();
});

/** A consumer of the group that records every membership report and every event it handles. */
async function member(groupId: string) {
  const reports: GroupMembership[] = [];
  const handled = new Set<string>();
  const consumer = await bus.consume({
    groupId,
    topics: [TEST_TOPIC],
    handle: async ({ event }) => {
      handled.add(event.id);
    },
    onMembership: (membership) => reports.push(membership),
  });
  const last = () => reports.at(-1);
  return { consumer, reports, handled, last };
}

test('onMembership: alone while the only member, shared once another joins, alone again once it leaves', async () => {
  const groupId = kafka.groupId('members');
  const first = await member(groupId);
  await first.consumer.ready;
  assert.deepEqual(first.last(), { joined: true, alone: true });

  const second = await member(groupId);
  await second.consumer.ready;
  // The first learns of the rebalance, stops, and joins the new generation with the second.
  await waitFor(() => first.last()?.joined && !first.last()?.alone, {
    what: 'the first to rejoin, not alone',
  });
  const left = first.reports.findIndex((r) => !r.joined);
  assert.ok(left > 0, 'the first reported leaving its generation before joining the new one');
  assert.deepEqual(first.reports[0], { joined: true, alone: true });
  assert.deepEqual(second.last(), { joined: true, alone: false });

  // Both still consume: every event is handled by one of them.
  const events = Array.from({ length: 6 }, (_, n) =>
    createEvent(noted, 'test', { subjectId: `member-${n}`, data: { n, note: 'shared' } }),
  );
  await bus.publish(events.map((event) => ({ topic: TEST_TOPIC, event })));
  await waitFor(() => events.every((e) => first.handled.has(e.id) || second.handled.has(e.id)), {
    what: 'the six events handled',
  });

  await second.consumer.stop();
  assert.deepEqual(second.last(), { joined: false, alone: false }, 'a stopped consumer is out of the group');
  await waitFor(() => first.last()?.alone, { what: 'the first to be alone again' });
  await first.consumer.stop();
  assert.deepEqual(first.last(), { joined: false, alone: false });
});
