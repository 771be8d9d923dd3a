// `keyConcurrency`: a fetched batch is handled in lanes, one per message key (the subject), so a
// partition's events share the wait of their handlers' round trips while each subject's events
// keep their order; the offsets advance once the whole batch is done.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { createEvent, createLogger, type EventBus, type EventEnvelope } from '../src/index.ts';
import { testBus, testKafka, waitFor } from '../src/testing/index.ts';
import { TEST_TOPIC, noted } from './fixtures/test-events.ts';

const logger = createLogger('lanes-test', process.env.TEST_LOG_LEVEL ?? 'silent');
const kafka = testKafka('lanes');
let bus: EventBus;

before(async () => {
  bus = await testBus(kafka, 'lanes-test', logger, [TEST_TOPIC]);
});

after(async () => {
  await bus.close();
});

test('events of one subject stay in order, different subjects are handled at once, each once', async () => {
  const subjects = Array.from({ length: 6 }, (_, i) => `subject-${i}`);
  const perSubject = 8;
  const events = subjects.flatMap((subjectId) =>
    Array.from({ length: perSubject }, (_, n) =>
      createEvent(noted, 'test', { subjectId, data: { n, note: '' } }),
    ),
  );
  // Published before the consumer starts, so its first fetches hold many subjects per partition.
  await bus.publish(events.map((event) => ({ topic: TEST_TOPIC, event })));

  const groupId = kafka.groupId('lanes');
  const seen = new Map<string, number[]>();
  const handled = new Map<string, number>();
  let running = 0;
  let mostAtOnce = 0;
  const consumer = await bus.consume({
    groupId,
    topics: [TEST_TOPIC],
    keyConcurrency: 4,
    // One partition at a time: whatever runs at once does so within a partition's batch.
    partitionsConsumedConcurrently: 1,
    handle: async ({ event }) => {
      running += 1;
      mostAtOnce = Math.max(mostAtOnce, running);
      // A store round trip, of uneven length: lanes overtake each other.
      await sleep(5 + Math.random() * 10);
      running -= 1;
      const { n } = (event as EventEnvelope<{ n: number }>).data;
      seen.set(event.subjectId, [...(seen.get(event.subjectId) ?? []), n]);
      handled.set(event.id, (handled.get(event.id) ?? 0) + 1);
    },
  });
  await consumer.ready;
  await waitFor(() => handled.size === events.length, { what: 'every event handled' });
  await consumer.stop();

  for (const subjectId of subjects)
    assert.deepEqual(
      seen.get(subjectId),
      Array.from({ length: perSubject }, (_, n) => n),
      `${subjectId} in order`,
    );
  assert.ok(
    [...handled.values()].every((count) => count === 1),
    'each event once',
  );
  assert.ok(mostAtOnce > 1, `several subjects at once (at most ${mostAtOnce} were)`);

  // The offsets were committed: the same group, started again, finds nothing left to handle.
  const again: string[] = [];
  const restarted = await bus.consume({
    groupId,
    topics: [TEST_TOPIC],
    keyConcurrency: 4,
    handle: async ({ event }) => void again.push(event.id),
  });
  await restarted.ready;
  const marker = createEvent(noted, 'test', { subjectId: 'marker', data: { n: 0, note: 'last' } });
  await bus.publish([{ topic: TEST_TOPIC, event: marker }]);
  await waitFor(() => again.includes(marker.id), { what: 'the marker' });
  await restarted.stop();
  assert.deepEqual(again, [marker.id]);
});
