import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { QueryTypes, type Sequelize } from 'sequelize';
import {
  type EventBus,
  PgOutbox,
  createEvent,
  createLogger,
  createSequelize,
  handleOnce,
  migrate,
  outboxInboxMigration,
  outboxTraceContextMigration,
  type ConsumedEvent,
  type EventEnvelope,
} from '../src/index.ts';
import {
  TopicReader,
  createTestDatabase,
  testBus,
  testKafka,
  waitFor,
  type TestDatabase,
} from '../src/testing/index.ts';
import { TEST_TOPIC, noted } from './fixtures/test-events.ts';

const logger = createLogger('pg-outbox-test', process.env.TEST_LOG_LEVEL ?? 'silent');

describe('PostgreSQL outbox and inbox on the real stack', () => {
  const kafka = testKafka('pgoutbox');
  let db: TestDatabase;
  let sequelize: Sequelize;
  let bus: EventBus;
  let outbox: PgOutbox;
  let reader: TopicReader;

  before(async () => {
    db = await createTestDatabase('pgoutbox');
    sequelize = createSequelize(db.url, logger);
    await migrate(sequelize, [outboxInboxMigration, outboxTraceContextMigration], logger);
    await sequelize.query('CREATE TABLE applied (event_id uuid NOT NULL, n integer NOT NULL)');
    bus = await testBus(kafka, 'pg-outbox-test', logger, [TEST_TOPIC]);
    reader = await TopicReader.start(kafka, [TEST_TOPIC]);
    outbox = new PgOutbox({ sequelize, bus, logger, sweepIntervalMs: 200 });
    outbox.start();
  });

  after(async () => {
    await outbox.stop();
    await reader.stop();
    await bus.close();
    await sequelize.close();
    await db.drop();
  });

  test('an event written in a transaction is published after commit and consumed', async () => {
    const received: ConsumedEvent[] = [];
    const consumer = await bus.consume({
      groupId: kafka.groupId('a'),
      topics: [TEST_TOPIC],
      handle: async (consumed) => {
        received.push(consumed);
      },
    });
    await consumer.ready;
    const event = createEvent(noted, 'test', { subjectId: 'agg-a', data: { n: 1, note: 'hello' } });
    await sequelize.transaction((transaction) => outbox.add(transaction, event));

    const got = await waitFor(() => received.find((r) => r.event.id === event.id), { what: 'the event' });
    assert.deepEqual(got.event, event);
    assert.equal(got.topic, TEST_TOPIC);
    const [row] = await sequelize.query<{ published_at: Date | null }>(
      'SELECT published_at FROM outbox WHERE id = :id',
      {
        replacements: { id: event.id },
        type: QueryTypes.SELECT,
      },
    );
    assert.ok(row?.published_at, 'row is marked published');
    await consumer.stop();
  });

  test('a rolled-back transaction publishes nothing', async () => {
    const event = createEvent(noted, 'test', { subjectId: 'agg-rollback', data: { n: 2, note: 'never' } });
    await assert.rejects(
      sequelize.transaction(async (transaction) => {
        await outbox.add(transaction, event);
        throw new Error('business rule failed');
      }),
      /business rule failed/,
    );
    await outbox.drain();
    const [row] = await sequelize.query('SELECT 1 FROM outbox WHERE id = :id', {
      replacements: { id: event.id },
      type: QueryTypes.SELECT,
    });
    assert.equal(row, undefined);
    assert.equal(
      reader.messages.some((m) => m.value?.includes(event.id)),
      false,
    );
  });

  test('the same event delivered twice is applied once (inbox)', async () => {
    const event = createEvent(noted, 'test', { subjectId: 'agg-b', data: { n: 7, note: 'twice' } });
    let handled = 0;
    const consumer = await bus.consume({
      groupId: kafka.groupId('b'),
      topics: [TEST_TOPIC],
      handle: async ({ event: e }) => {
        if (e.id !== event.id) return 'skip';
        handled += 1;
        await handleOnce(sequelize, 'applier', e, (transaction) =>
          sequelize.query('INSERT INTO applied (event_id, n) VALUES (:id, :n)', {
            replacements: { id: e.id, n: (e as EventEnvelope<{ n: number }>).data.n },
            transaction,
          }),
        );
      },
    });
    await consumer.ready;
    // A redelivery: the very same envelope published twice (as after a relay crash post-ack).
    await bus.publish([
      { topic: TEST_TOPIC, event },
      { topic: TEST_TOPIC, event },
    ]);
    await waitFor(() => handled === 2, { what: 'both deliveries' });
    const rows = await sequelize.query<{ n: number }>('SELECT n FROM applied WHERE event_id = :id', {
      replacements: { id: event.id },
      type: QueryTypes.SELECT,
    });
    assert.deepEqual(rows, [{ n: 7 }]);
    await consumer.stop();
  });

  test('a row left unpublished by a killed process is published by the sweep on restart', async () => {
    await outbox.stop(); // The "restarted" relay below is the only one running.
    const note = `crash-${randomUUID()}`;
    const child = promisify(execFile)(
      process.execPath,
      [
        new URL('./fixtures/commit-then-die.ts', import.meta.url).pathname,
        db.url,
        kafka.brokers.join(','),
        kafka.topicPrefix,
        note,
      ],
      { timeout: 30_000 },
    );
    await assert.rejects(child, (err: { signal?: string }) => err.signal === 'SIGKILL');
    const [pending] = await sequelize.query<{ id: string; published_at: Date | null }>(
      `SELECT id, published_at FROM outbox WHERE envelope->'data'->>'note' = :note`,
      { replacements: { note }, type: QueryTypes.SELECT },
    );
    assert.ok(pending, 'the committed row exists');
    assert.equal(pending.published_at, null, 'and was not published before the kill');

    const restarted = new PgOutbox({ sequelize, bus, logger, sweepIntervalMs: 200 });
    restarted.start();
    try {
      const message = await waitFor(() => reader.messages.find((m) => m.value?.includes(note)), {
        what: 'the swept event on Kafka',
      });
      assert.equal(message.headers['event-id'], pending.id);
      assert.equal(message.key, 'crash');
    } finally {
      await restarted.stop();
    }
    outbox.start();
  });

  test('a failed publish rolls its claim back and records the attempt; a later pass publishes the rows', async () => {
    await outbox.stop(); // The flaky relay below is the only one running.
    let failures = 1;
    // Fault injection over the real bus: its first publish fails as if the broker were away.
    const flakyBus = {
      publish: async (...args: Parameters<EventBus['publish']>) => {
        if (failures-- > 0) throw new Error('broker unavailable');
        return bus.publish(...args);
      },
    } as unknown as EventBus;
    const flaky = new PgOutbox({ sequelize, bus: flakyBus, logger, sweepIntervalMs: 100 });
    const event = createEvent(noted, 'test', { subjectId: 'agg-flaky', data: { n: 1, note: 'flaky' } });
    try {
      flaky.start();
      await sequelize.transaction((transaction) => flaky.add(transaction, event));
      await waitFor(() => reader.messages.some((m) => m.headers['event-id'] === event.id), {
        what: 'the event published on a later pass',
      });
      // The pass marks its rows when it commits, after the broker has the event: a reader may see
      // the event a moment before the mark.
      const row = await waitFor(
        async () => {
          const [found] = await sequelize.query<{
            attempts: number;
            last_error: string;
            published_at: Date | null;
          }>('SELECT attempts, last_error, published_at FROM outbox WHERE id = :id', {
            replacements: { id: event.id },
            type: QueryTypes.SELECT,
          });
          return found?.published_at ? found : undefined;
        },
        { what: 'the row marked published' },
      );
      assert.equal(row?.attempts, 1, 'the failed attempt is counted');
      assert.match(row?.last_error ?? '', /broker unavailable/);
      assert.ok(row?.published_at, 'and the row is marked once a pass published it');
      assert.equal(
        reader.messages.filter((m) => m.headers['event-id'] === event.id).length,
        1,
        'published once: the failed pass published nothing',
      );
    } finally {
      await flaky.stop();
      outbox.start();
    }
  });

  test('two relays on one database publish every row once, each aggregate in order', async () => {
    const other = createSequelize(db.url, logger);
    const second = new PgOutbox({ sequelize: other, bus, logger, sweepIntervalMs: 200 });
    second.start();
    try {
      const events = Array.from({ length: 30 }, (_, i) =>
        createEvent(noted, 'test', { subjectId: `agg-two-${i % 3}`, data: { n: i, note: 'two relays' } }),
      );
      // Each event through one of the two replicas, alternately: both relays wake and compete.
      await Promise.all(
        [0, 1, 2].map(async (aggregate) => {
          for (const [i, event] of events.entries()) {
            if (i % 3 !== aggregate) continue;
            const [db, relay] = i % 2 === 0 ? [sequelize, outbox] : [other, second];
            await db.transaction((transaction) => relay.add(transaction, event));
          }
        }),
      );
      const ids = new Set(events.map((e) => e.id));
      const seen = await waitFor(
        () => {
          const got = reader.messages.map((m) => m.headers['event-id']).filter((id) => id && ids.has(id));
          return got.length >= ids.size ? got : undefined;
        },
        { what: 'all 30 events' },
      );
      assert.equal(new Set(seen).size, ids.size, 'every event published');
      assert.equal(seen.length, ids.size, 'none twice');
      for (const aggregate of [0, 1, 2]) {
        const written = events.filter((e) => e.subjectId === `agg-two-${aggregate}`).map((e) => e.id);
        assert.deepEqual(
          seen.filter((id) => written.includes(id!)),
          written,
          `agg-two-${aggregate} in the order written`,
        );
      }
    } finally {
      await second.stop();
      await other.close();
    }
  });

  test('events of one aggregate keep their order', async () => {
    const events = Array.from({ length: 20 }, (_, i) =>
      createEvent(noted, 'test', { subjectId: 'agg-ordered', data: { n: i, note: 'ordered' } }),
    );
    for (const event of events) await sequelize.transaction((transaction) => outbox.add(transaction, event));
    const ids = events.map((e) => e.id);
    const seen = await waitFor(
      () => {
        const got = reader.messages.map((m) => m.headers['event-id']).filter((id) => id && ids.includes(id));
        return got.length === ids.length ? got : undefined;
      },
      { what: 'all 20 ordered events' },
    );
    assert.deepEqual(seen, ids);
  });
});
