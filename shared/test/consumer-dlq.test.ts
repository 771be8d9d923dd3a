import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { EventBus, createEvent, createLogger, dlqTopic, type EventEnvelope } from '../src/index.ts';
import { TopicReader, testKafka, waitFor } from '../src/testing/index.ts';
import { TEST_TOPIC, noted } from './fixtures/test-events.ts';

const logger = createLogger('dlq-test', process.env.TEST_LOG_LEVEL ?? 'silent');
const kafka = testKafka('dlq');
let bus: EventBus;
let reader: TopicReader;

before(async () => {
  bus = new EventBus({
    brokers: kafka.brokers,
    clientId: 'dlq-test',
    topicPrefix: kafka.topicPrefix,
    logger,
  });
  await bus.ensureTopics([TEST_TOPIC]);
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
