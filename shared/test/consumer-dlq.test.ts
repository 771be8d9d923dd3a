import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createEvent, createLogger, dlqTopic, type EventBus, type EventEnvelope } from '../src/index.ts';
import { TopicReader, testBus, testKafka, waitFor } from '../src/testing/index.ts';
import { TEST_TOPIC, noted } from './fixtures/test-events.ts';

const logger = createLogger('dlq-test', process.env.TEST_LOG_LEVEL ?? 'silent');
const kafka = testKafka('dlq');
let bus: EventBus;
let reader: TopicReader;

before(async () => {
  bus = await testBus(kafka, 'dlq-test', logger, [TEST_TOPIC]);
  reader = await TopicReader.start(kafka, [dlqTopic(TEST_TOPIC)]);
});

after(async () => {
  await reader.stop();
  await bus.close();
});

test('poison messages go to the DLQ with bounded retries and do not block their partition', async () => {
  const handled: string[] = [];
  const attempts = new Map<string, number>();
  const consumer = await bus.consume({
    groupId: kafka.groupId('dlq'),
    topics: [TEST_TOPIC],
    maxAttempts: 3,
    retryBaseDelayMs: 10,
    handle: async ({ event }) => {
      attempts.set(event.id, (attempts.get(event.id) ?? 0) + 1);
      if ((event as EventEnvelope<{ note: string }>).data.note === 'poison') throw new Error('cannot apply');
      handled.push(event.id);
    },
  });
  await consumer.ready;

  const key = 'same-aggregate'; // one key = one partition: the good events queue behind the bad ones
  const poison = createEvent(noted, 'test', { subjectId: key, data: { n: 1, note: 'poison' } });
  const good = createEvent(noted, 'test', { subjectId: key, data: { n: 2, note: 'fine' } });
  const invalid = {
    ...createEvent(noted, 'test', { subjectId: key, data: { n: 3, note: 'x' } }),
    data: { n: 'three' },
  };
  const unknownType = {
    ...createEvent(noted, 'test', { subjectId: key, data: { n: 4, note: 'y' } }),
    type: 'test.fromTheFuture',
  };
  const last = createEvent(noted, 'test', { subjectId: key, data: { n: 5, note: 'fine too' } });
  await bus.publish(
    [poison, invalid as EventEnvelope, unknownType, good, last].map((event) => ({
      topic: TEST_TOPIC,
      event,
    })),
  );
  // And a message that is not even JSON, written straight to the topic.
  const { Kafka } = await import('kafkajs');
  const raw = new Kafka({ clientId: 'raw', brokers: kafka.brokers, logLevel: 0 }).producer();
  await raw.connect();
  await raw.send({ topic: kafka.topicPrefix + TEST_TOPIC, messages: [{ key, value: '{not json' }] });
  await raw.disconnect();

  await waitFor(() => handled.includes(last.id), { what: 'the events behind the poison one' });
  assert.deepEqual(handled, [good.id, last.id], 'good events are handled, in order, past the poison');
  assert.equal(attempts.get(poison.id), 3, 'the failing handler is tried exactly maxAttempts times');
  assert.equal(attempts.has(unknownType.id), false, 'unknown types are skipped, not handled');

  const parked = await waitFor(() => (reader.messages.length >= 3 ? reader.messages : undefined), {
    what: 'three DLQ messages',
  });
  const reasons = Object.fromEntries(
    parked.map((m) => [m.headers['event-id'] ?? 'raw', m.headers['dlq-reason']]),
  );
  assert.deepEqual(reasons, {
    [poison.id]: 'handler-failed',
    [invalid.id]: 'invalid-data',
    raw: 'malformed-json',
  });
  const poisonCopy = parked.find((m) => m.headers['event-id'] === poison.id);
  assert.equal(poisonCopy?.headers['dlq-original-topic'], TEST_TOPIC);
  assert.match(poisonCopy?.headers['dlq-error'] ?? '', /cannot apply/);
  assert.equal(JSON.parse(poisonCopy?.value ?? '{}').id, poison.id, 'the original message is kept intact');
  await consumer.stop();
});

test('a pipelined consumer starts a batch’s events in order without waiting for each, and still parks a failing one', async () => {
  const mark = `pipelined-${Date.now()}`;
  const started: number[] = [];
  const finished: number[] = [];
  let inFlight = 0;
  let mostInFlight = 0;
  const consumer = await bus.consume({
    groupId: kafka.groupId('pipelined'),
    topics: [TEST_TOPIC],
    pipelined: true,
    maxAttempts: 2,
    retryBaseDelayMs: 10,
    handle: async ({ event }) => {
      const { n, note } = (event as EventEnvelope<{ n: number; note: string }>).data;
      if (!note.startsWith(mark)) return 'skip'; // the other tests' events on the shared topic
      if (!started.includes(n)) started.push(n);
      inFlight += 1;
      mostInFlight = Math.max(mostInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 50));
      inFlight -= 1;
      if (note.endsWith('poison')) throw new Error('cannot apply');
      finished.push(n);
    },
  });
  await consumer.ready;
  // One publish, one key: one partition, most likely one fetched batch.
  const events = Array.from({ length: 10 }, (_, n) =>
    createEvent(noted, 'test', { subjectId: mark, data: { n, note: n === 4 ? `${mark} poison` : mark } }),
  );
  await bus.publish(events.map((event) => ({ topic: TEST_TOPIC, event })));

  await waitFor(() => finished.length === 9, { what: 'the nine good events' });
  assert.deepEqual(started, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'started in partition order');
  assert.ok(mostInFlight > 1, 'handled at the same time, not one after the other');
  await waitFor(() => reader.messages.find((m) => m.headers['event-id'] === events[4]?.id), {
    what: 'the failing event on the DLQ',
  });
  await consumer.stop();
});

test('concurrent publishes arrive in the order made (sent together while one is in flight); ignored ids are not handled', async () => {
  const mark = `coalesced-${Date.now()}`;
  const received: number[] = [];
  const events = Array.from({ length: 50 }, (_, n) =>
    createEvent(noted, 'test', { subjectId: mark, data: { n, note: mark } }),
  );
  const ignored = new Set([events[7]?.id]);
  const consumer = await bus.consume({
    groupId: kafka.groupId('coalesced'),
    topics: [TEST_TOPIC],
    ignore: (eventId) => ignored.has(eventId),
    handle: async ({ event }) => {
      const { n, note } = (event as EventEnvelope<{ n: number; note: string }>).data;
      if (note === mark) received.push(n);
    },
  });
  await consumer.ready;
  await Promise.all(events.map((event) => bus.publish([{ topic: TEST_TOPIC, event }])));

  const expected = events.map((_, n) => n).filter((n) => n !== 7);
  await waitFor(() => received.length === expected.length, { what: 'every published event' });
  assert.deepEqual(received, expected);
  await consumer.stop();
});

test('a stopped consumer commits what it handled: its group’s next member starts after it', async () => {
  const mark = `committed-${Date.now()}`;
  const groupId = kafka.groupId('committed');
  const note = (n: number) => createEvent(noted, 'test', { subjectId: mark, data: { n, note: mark } });
  const handledBy = (seen: number[]) =>
    bus.consume({
      groupId,
      topics: [TEST_TOPIC],
      handle: async ({ event }) => {
        const { n, note: text } = (event as EventEnvelope<{ n: number; note: string }>).data;
        if (text === mark) seen.push(n);
      },
    });

  const first: number[] = [];
  const one = await handledBy(first);
  await one.ready;
  await bus.publish([1, 2, 3].map((n) => ({ topic: TEST_TOPIC, event: note(n) })));
  await waitFor(() => first.length === 3, { what: 'the first three events' });
  // Well within the commit interval: only the commit made on stopping can record them.
  await one.stop();

  const second: number[] = [];
  const two = await handledBy(second);
  await two.ready;
  await bus.publish([{ topic: TEST_TOPIC, event: note(4) }]);
  await waitFor(() => second.includes(4), { what: 'the fourth event' });
  assert.deepEqual(first, [1, 2, 3]);
  assert.deepEqual(second, [4], 'nothing the first member handled is handled again');
  await two.stop();
});
