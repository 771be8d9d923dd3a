import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Schema, type Connection } from 'mongoose';
import {
  EventBus,
  MongoInbox,
  MongoOutbox,
  connectMongo,
  createEvent,
  createLogger,
  isDuplicateKeyError,
  outboxPlugin,
  outboxSet,
  pingMongo,
  stageEvents,
} from '../src/index.ts';
import { TopicReader, testKafka, testMongoUrl, waitFor } from '../src/testing/index.ts';
import { TEST_TOPIC, noted } from './fixtures/test-events.ts';

const logger = createLogger('mongo-test', process.env.TEST_LOG_LEVEL ?? 'silent');

interface Account {
  email: string;
  name: string;
}

describe('MongoDB (FerretDB) through Mongoose', () => {
  const kafka = testKafka('mongo');
  let connection: Connection;
  let bus: EventBus;
  let reader: TopicReader;

  const accountSchema = new Schema<Account>({
    email: { type: String, required: true, unique: true },
    name: String,
  });
  outboxPlugin(accountSchema);

  before(async () => {
    connection = await connectMongo(testMongoUrl('mongo'), logger);
    bus = new EventBus({
      brokers: kafka.brokers,
      clientId: 'mongo-test',
      topicPrefix: kafka.topicPrefix,
      logger,
    });
    await bus.ensureTopics([TEST_TOPIC]);
    reader = await TopicReader.start(kafka, [TEST_TOPIC]);
  });

  after(async () => {
    await reader.stop();
    await bus.close();
    await connection.dropDatabase();
    await connection.close();
  });

  test('answers ping and round-trips documents', async () => {
    await pingMongo(connection);
    const Account = connection.model<Account>('RoundTrip', accountSchema);
    await Account.init();
    const created = await Account.create({ email: 'ada@example.com', name: 'Ada' });
    const found = await Account.findById(created._id).lean();
    assert.equal(found?.name, 'Ada');
  });

  test('a unique index rejects a duplicate', async () => {
    const Account = connection.model<Account>('Unique', accountSchema);
    await Account.init(); // builds the indexes before we rely on them
    await Account.create({ email: 'grace@example.com', name: 'Grace' });
    await assert.rejects(Account.create({ email: 'grace@example.com', name: 'Another Grace' }), (err) => {
      assert.ok(isDuplicateKeyError(err), `expected E11000, got ${String(err)}`);
      return true;
    });
    assert.equal(await Account.countDocuments({ email: 'grace@example.com' }), 1);
  });

  test('the document outbox publishes each staged event exactly once', async () => {
    const Account = connection.model<Account>('Outboxed', accountSchema);
    await Account.init();
    const outbox = new MongoOutbox({ bus, logger, models: [Account], sweepIntervalMs: 100 });

    const doc = new Account({ email: 'linus@example.com', name: 'Linus' });
    const first = createEvent(noted, 'test', { subjectId: String(doc._id), data: { n: 1, note: 'created' } });
    stageEvents(doc, [first]);
    await doc.save();
    await outbox.flush(Account, doc._id);

    // A second change staged through an update operator, then left for the sweep alone.
    const second = createEvent(noted, 'test', {
      subjectId: String(doc._id),
      data: { n: 2, note: 'renamed' },
    });
    await Account.updateOne({ _id: doc._id }, { $set: { name: 'Linus T.', ...outboxSet([second]) } });
    outbox.start();

    const ids = [first.id, second.id];
    await waitFor(() => ids.every((id) => reader.messages.some((m) => m.headers['event-id'] === id)), {
      what: 'both events on Kafka',
    });
    // Let several more sweeps and flushes run: nothing may be published again.
    await outbox.flush(Account, doc._id);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await outbox.stop();

    const published = reader.messages.filter((m) => ids.includes(m.headers['event-id'] ?? ''));
    assert.deepEqual(
      published.map((m) => m.headers['event-id']),
      ids,
      'each event exactly once, in order',
    );
    const stored = await Account.findById(doc._id).lean<Record<string, unknown>>();
    assert.equal(stored?._outbox, undefined, 'published events are removed from the document');
    assert.equal(stored?._outboxPending, undefined);
    assert.equal(stored?.name, 'Linus T.');
    assert.equal('_outbox' in doc.toJSON(), false, 'the outbox never leaks into API output');
  });

  test('the inbox skips an event it has already handled', async () => {
    const inbox = new MongoInbox(connection);
    const event = createEvent(noted, 'test', { subjectId: 'x', data: { n: 1, note: 'once' } });
    let effects = 0;
    assert.equal(await inbox.handleOnce('projector', event, async () => void (effects += 1)), true);
    assert.equal(await inbox.handleOnce('projector', event, async () => void (effects += 1)), false);
    assert.equal(await inbox.handleOnce('another-consumer', event, async () => void (effects += 1)), true);
    assert.equal(effects, 2);
  });
});
