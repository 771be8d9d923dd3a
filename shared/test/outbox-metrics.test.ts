import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Schema, type Connection } from 'mongoose';
import { Registry } from 'prom-client';
import type { Sequelize } from 'sequelize';
import {
  MongoOutbox,
  PgOutbox,
  connectMongo,
  createEvent,
  createLogger,
  createSequelize,
  migrate,
  mongoOutboxBacklog,
  observeOutbox,
  outboxInboxMigration,
  outboxTraceContextMigration,
  outboxPlugin,
  pgOutboxBacklog,
  type EventBus,
} from '../src/index.ts';
import {
  createTestDatabase,
  dropMongoDatabase,
  metricValue,
  testBus,
  testKafka,
  testMongoUrl,
  type TestDatabase,
} from '../src/testing/index.ts';
import { TEST_TOPIC, noted } from './fixtures/test-events.ts';

const logger = createLogger('outbox-metrics-test', process.env.TEST_LOG_LEVEL ?? 'silent');
const event = (n: number) => createEvent(noted, 'test', { subjectId: 'subject', data: { n, note: 'x' } });

async function backlog(registry: Registry) {
  const text = await registry.metrics();
  return {
    unsent: metricValue(text, 'outbox_unsent_events'),
    age: metricValue(text, 'outbox_oldest_unsent_age_seconds'),
  };
}

describe('outbox backlog metrics on the real stores', () => {
  const kafka = testKafka('outboxmetrics');
  let bus: EventBus;

  before(async () => {
    bus = await testBus(kafka, 'outbox-metrics-test', logger, [TEST_TOPIC]);
  });
  after(() => bus.close());

  describe('PostgreSQL', () => {
    let db: TestDatabase;
    let sequelize: Sequelize;

    before(async () => {
      db = await createTestDatabase('outboxmetrics');
      sequelize = createSequelize(db.url, logger);
      await migrate(sequelize, [outboxInboxMigration, outboxTraceContextMigration], logger);
    });
    after(async () => {
      await sequelize.close();
      await db.drop();
    });

    test('unsent rows and the age of the oldest, one query; 0 once the relay has published them', async () => {
      const registry = new Registry();
      observeOutbox(registry, pgOutboxBacklog(sequelize), { cacheMs: 0 });
      assert.deepEqual(await backlog(registry), { unsent: 0, age: 0 });
      // Rows a relay could not publish (written as `add` writes them, the oldest 30 s ago).
      for (const [i, ageSeconds] of [30, 5, 1].entries()) {
        const e = event(i);
        await sequelize.query(
          `INSERT INTO outbox (id, topic, key, envelope, created_at)
           VALUES ($1, $2, $3, $4::jsonb, now() - ($5 || ' seconds')::interval)`,
          { bind: [e.id, TEST_TOPIC, e.subjectId, JSON.stringify(e), String(ageSeconds)] },
        );
      }
      const held = await backlog(registry);
      assert.equal(held.unsent, 3);
      assert.ok(held.age !== undefined && held.age >= 30 && held.age < 40, `age ${held.age}`);

      const published = await new PgOutbox({ sequelize, bus, logger }).drain();
      assert.equal(published, 3);
      assert.deepEqual(await backlog(registry), { unsent: 0, age: 0 });
    });

    test('a store that does not answer makes the backlog NaN, and the scrape still answers', async () => {
      const registry = new Registry();
      const never = () => new Promise<never>(() => {});
      observeOutbox(registry, never, { cacheMs: 0, timeoutMs: 100 });
      const { unsent, age } = await backlog(registry);
      assert.ok(Number.isNaN(unsent) && Number.isNaN(age));
    });
  });

  describe('MongoDB', () => {
    const url = testMongoUrl('outboxmetrics');
    let connection: Connection;

    before(async () => {
      connection = await connectMongo(url, logger);
    });
    after(async () => {
      await connection.close();
      await dropMongoDatabase(url);
    });

    test('entries staged or confirmed count until the relay has published them', async () => {
      const schema = new Schema({ _id: String, name: String });
      outboxPlugin(schema);
      const Thing = connection.model('Thing', schema);
      const outbox = new MongoOutbox({ connection, bus, logger, models: [Thing] });
      const registry = new Registry();
      observeOutbox(registry, mongoOutboxBacklog(connection), { cacheMs: 0 });
      assert.deepEqual(await backlog(registry), { unsent: 0, age: 0 });

      const id = randomUUID();
      const staged = await outbox.stage(Thing, id, [event(1), event(2)]);
      await Thing.create({ _id: id, name: 'thing', ...staged.mark });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const held = await backlog(registry);
      assert.equal(held.unsent, 2);
      assert.ok(held.age !== undefined && held.age > 0 && held.age < 10, `age ${held.age}`);

      await outbox.commit(staged);
      await outbox.drain();
      assert.deepEqual(await backlog(registry), { unsent: 0, age: 0 });
    });
  });
});
