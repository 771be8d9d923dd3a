import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import {
  EventBus,
  createEvent,
  createLogger,
  dlqTopic,
  observeEventBus,
  scrapeCache,
  type EventEnvelope,
} from '../src/index.ts';
import { closedPort, metricValue, testBus, testKafka, waitFor } from '../src/testing/index.ts';
import { TEST_TOPIC, noted } from './fixtures/test-events.ts';

const logger = createLogger('event-metrics-test', process.env.TEST_LOG_LEVEL ?? 'silent');

describe('event bus metrics on the real broker', () => {
  const kafka = testKafka('evmetrics');
  const registry = new Registry();
  let bus: EventBus;

  before(async () => {
    bus = await testBus(kafka, 'event-metrics-test', logger, [TEST_TOPIC]);
    // No cache: every scrape below reads Kafka again.
    observeEventBus(registry, bus, { lagCacheMs: 0 });
  });

  after(() => bus.close());

  test('handler time and failures per type, a poison message on the DLQ counted, the lag up then down', async () => {
    const groupId = kafka.groupId('metrics');
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const handled = new Set<string>();
    const consumer = await bus.consume({
      groupId,
      topics: [TEST_TOPIC],
      maxAttempts: 2,
      retryBaseDelayMs: 10,
      handle: async ({ event }) => {
        const { note } = (event as EventEnvelope<{ note: string }>).data;
        if (note === 'poison') throw new Error('cannot apply');
        if (note === 'hold') await held;
        handled.add(event.id);
      },
    });
    await consumer.ready;

    // One key, one partition: everything queues behind the held event.
    const subjectId = 'one-aggregate';
    const event = (n: number, note: string) => createEvent(noted, 'test', { subjectId, data: { n, note } });
    const first = event(1, 'hold');
    const poison = event(2, 'poison');
    const invalid = { ...event(3, 'x'), data: { n: 'three' } } as unknown as EventEnvelope;
    const rest = [event(4, 'fine'), event(5, 'fine')];
    await bus.publish([first, poison, invalid, ...rest].map((e) => ({ topic: TEST_TOPIC, event: e })));

    const lagOf = async () =>
      metricValue(await registry.metrics(), 'kafka_consumer_lag_messages', {
        group: groupId,
        topic: TEST_TOPIC,
      });
    // Nothing committed while the first event is held: the whole partition is behind.
    const behind = await waitFor(async () => ((await lagOf()) ?? 0) >= 5 && lagOf(), {
      what: 'the lag of the held group',
      timeoutMs: 20_000,
      intervalMs: 200,
    });
    assert.equal(behind, 5);

    release();
    await waitFor(() => rest.every((e) => handled.has(e.id)), { what: 'the events behind the poison' });
    // Offsets are committed once a second: then the group has caught up.
    await waitFor(async () => (await lagOf()) === 0, { what: 'the lag back to 0', timeoutMs: 20_000 });

    const text = await registry.metrics();
    const labels = { consumer: groupId, event_type: noted.type };
    assert.equal(metricValue(text, 'event_handler_failures_total', labels), 2, 'both attempts of the poison');
    // 3 runs that succeeded (hold, fine, fine; none for the invalid one) and 2 that failed.
    assert.equal(metricValue(text, 'event_handler_duration_seconds_count', labels), 5);
    const dead = (reason: string) =>
      metricValue(text, 'events_dead_lettered_total', { consumer: groupId, topic: TEST_TOPIC, reason });
    assert.equal(dead('handler-failed'), 1);
    assert.equal(dead('invalid-data'), 1);
    const parked = await waitFor(
      async () =>
        metricValue(await registry.metrics(), 'kafka_dead_letter_messages', { topic: dlqTopic(TEST_TOPIC) }),
      { what: 'the DLQ size' },
    );
    assert.equal(parked, 2);
    await consumer.stop();
    assert.equal(metricValue(await registry.metrics(), 'kafka_consumer_lag_messages'), undefined, 'stopped');
  });

  test('a broker that does not answer leaves the lag out, and the scrape still answers in time', async () => {
    const dead = new EventBus({
      brokers: [`127.0.0.1:${await closedPort()}`],
      clientId: 'dead',
      logger: createLogger('dead-broker', 'silent'),
    });
    const deadRegistry = new Registry();
    observeEventBus(deadRegistry, dead, { lagTimeoutMs: 300 });
    const began = performance.now();
    const text = await deadRegistry.metrics();
    assert.ok(performance.now() - began < 2_000, 'the scrape waited for the broker');
    assert.equal(metricValue(text, 'kafka_consumer_lag_messages'), undefined);
    assert.match(text, /# TYPE events_dead_lettered_total counter/);
    await dead.close().catch(() => undefined);
  });
});

test('scrapeCache: one read at a time, reused for its ttl, bounded by its timeout', async () => {
  let reads = 0;
  let finish: (value: number) => void = () => {};
  const read = scrapeCache(
    () => {
      reads += 1;
      return new Promise<number>((resolve) => {
        finish = resolve;
      });
    },
    { ttlMs: 0, timeoutMs: 50 },
  );
  assert.equal(await read(), undefined, 'a read slower than the timeout gives nothing');
  assert.equal(await read(), undefined);
  assert.equal(reads, 1, 'no second read while the first still runs');
  finish(7);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(await read(), undefined, 'the first read is over: a new one starts (slow again)');
  assert.equal(reads, 2);
  finish(9);
  const cached = scrapeCache(async () => ++reads, { ttlMs: 60_000, timeoutMs: 50 });
  const once = await cached();
  assert.equal(await cached(), once, 'reused within its ttl');
  const failing = scrapeCache(() => Promise.reject(new Error('down')), { ttlMs: 0, timeoutMs: 50 });
  assert.equal(await failing(), undefined, 'a failed read gives nothing, the scrape goes on');
});
