import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Schema, type Connection } from 'mongoose';
import {
  CoalescedInserts,
  MongoInbox,
  MongoOutbox,
  connectMongo,
  createEvent,
  createLogger,
  isDuplicateKeyError,
  upsertRetried,
  outboxPlugin,
  pingMongo,
  type EventBus,
} from '../src/index.ts';
import {
  TopicReader,
  dropMongoDatabase,
  testBus,
  testKafka,
  testMongoUrl,
  waitFor,
} from '../src/testing/index.ts';
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
    bus = await testBus(kafka, 'mongo-test', logger, [TEST_TOPIC]);
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

  test('concurrent upserts of one new _id: E11000 for some, none with upsertRetried', async () => {
    const Counter = connection.model<{ _id: string; last: string; first: string }>(
      'Race',
      new Schema({ _id: String, last: String, first: String }),
    );
    const race = (id: string, retried: boolean) =>
      Promise.allSettled(
        Array.from({ length: 12 }, (_, i) => {
          const upsert = () =>
            Counter.updateOne(
              { _id: id },
              { $set: { last: `w${i}` }, $setOnInsert: { first: `w${i}` } },
              { upsert: true },
            );
          return retried ? upsertRetried(upsert) : upsert();
        }),
      );
    let plainFailures = 0;
    for (let round = 0; round < 30 && plainFailures === 0; round += 1) {
      const settled = await race(`plain-${round}`, false);
      plainFailures += settled.filter((r) => r.status === 'rejected' && isDuplicateKeyError(r.reason)).length;
    }
    assert.ok(
      plainFailures > 0,
      'the store answers E11000 to a lost upsert race (else this test proves nothing)',
    );
    for (let round = 0; round < 5; round += 1) {
      const settled = await race(`retried-${round}`, true);
      assert.deepEqual(
        settled.filter((r) => r.status === 'rejected'),
        [],
      );
      const stored = await Counter.findById(`retried-${round}`).lean();
      assert.match(stored?.first ?? '', /^w\d+$/);
      assert.match(stored?.last ?? '', /^w\d+$/);
    }
  });

  test('inserts asked for together go in one command; each caller hears inserted or duplicate', async () => {
    const Thing = connection.model<{ _id: string; n: number }>(
      'CoalescedThing',
      new Schema({ _id: String, n: Number }, { collection: 'coalesced_things', versionKey: false }),
    );
    await Thing.create({ _id: 'already', n: 0 });
    let commands = 0;
    const counted = new Proxy(Thing, {
      get(target, key, receiver) {
        if (key !== 'insertMany') return Reflect.get(target, key, receiver) as unknown;
        return (...args: Parameters<typeof target.insertMany>) => {
          commands += 1;
          return target.insertMany(...args);
        };
      },
    });
    const inserts = new CoalescedInserts(counted);
    const results = await Promise.all([
      inserts.insert({ _id: 'a', n: 1 }),
      inserts.insert({ _id: 'already', n: 2 }),
      inserts.insert({ _id: 'b', n: 3 }),
      inserts.insert({ _id: 'a', n: 4 }),
      inserts.insert({ _id: 'c', n: 5 }),
    ]);
    assert.deepEqual(results, [true, false, true, false, true]);
    assert.equal(commands, 1, 'one insertMany for the five');
    const stored = await Thing.find().sort({ _id: 1 }).lean();
    assert.deepEqual(
      stored.map(({ _id, n }) => [_id, n]),
      [
        ['a', 1],
        ['already', 0],
        ['b', 3],
        ['c', 5],
      ],
    );
    // Asked for one after the other, each goes alone.
    assert.equal(await inserts.insert({ _id: 'd', n: 6 }), true);
    assert.equal(await inserts.insert({ _id: 'e', n: 7 }), true);
    assert.equal(commands, 3);
  });

  test('a command that fails for another reason fails every caller in it', async () => {
    const closed = await connectMongo(testMongoUrl('mongo-closed'), logger);
    const Thing = closed.model<{ _id: string }>(
      'ClosedThing',
      new Schema({ _id: String }, { collection: 'things', versionKey: false }),
    );
    await closed.close();
    const inserts = new CoalescedInserts(Thing);
    const results = await Promise.allSettled([inserts.insert({ _id: 'x' }), inserts.insert({ _id: 'y' })]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    );
  });

  test('the outbox publishes each committed event once and in order, and nothing of a write that did not happen', async () => {
    const Account = connection.model<Account>('Outboxed', accountSchema);
    await Account.init();
    const outbox = new MongoOutbox({ connection, bus, logger, models: [Account], sweepIntervalMs: 100 });
    const note = (id: unknown, n: number, text: string) =>
      createEvent(noted, 'test', { subjectId: String(id), data: { n, note: text } });

    const doc = new Account({ email: 'linus@example.com', name: 'Linus' });
    const first = note(doc._id, 1, 'created');
    await outbox.write(Account, doc._id, [first], async (mark) => {
      doc.set(mark);
      return doc.save();
    });
    const second = note(doc._id, 2, 'renamed');
    const third = note(doc._id, 3, 'renamed again');
    const renamed = await outbox.write(Account, doc._id, [second, third], (mark) =>
      Account.findOneAndUpdate(
        { _id: doc._id },
        { $set: { name: 'Linus T.', ...mark } },
        { new: true },
      ).lean(),
    );
    assert.equal(renamed?.name, 'Linus T.');
    // A write that matched nothing, and one that failed: neither event may ever be published.
    const unmatched = note(doc._id, 4, 'matched nothing');
    assert.equal(
      await outbox.write(Account, doc._id, [unmatched], (mark) =>
        Account.findOneAndUpdate({ _id: doc._id, name: 'nobody' }, { $set: { name: 'x', ...mark } }).lean(),
      ),
      null,
    );
    const failed = note(doc._id, 5, 'failed');
    const duplicate = new Account({ email: 'linus@example.com', name: 'Twin' });
    await assert.rejects(
      outbox.write(Account, duplicate._id, [failed], async (mark) => {
        duplicate.set(mark);
        return duplicate.save();
      }),
      (err) => isDuplicateKeyError(err),
    );

    const ids = [first.id, second.id, third.id];
    await waitFor(() => ids.every((id) => reader.messages.some((m) => m.headers['event-id'] === id)), {
      what: 'the three events on Kafka',
    });
    // Let more sweeps run: nothing may be published again.
    outbox.start();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await outbox.stop();

    const sent = reader.messages.map((m) => m.headers['event-id']);
    assert.deepEqual(
      sent.filter((id) => [...ids, unmatched.id, failed.id].includes(id ?? '')),
      ids,
      'each committed event exactly once, in order; the others never',
    );
    assert.equal(await connection.collection('outbox').countDocuments({}), 0, 'the outbox is empty');
    const stored = await Account.findById(doc._id).lean<Record<string, unknown>>();
    assert.equal(stored?.name, 'Linus T.');
    assert.equal('_outboxRev' in doc.toJSON(), false, 'the mark never leaks into API output');
  });

  test('the sweep publishes what a crashed writer left, when its write landed, and drops it otherwise', async () => {
    const Account = connection.model<Account>('Crashed', accountSchema);
    await Account.init();
    const outbox = new MongoOutbox({ connection, bus, logger, models: [Account], graceMs: 0 });
    const landed = new Account({ email: 'ken@example.com', name: 'Ken' });
    const landedEvent = createEvent(noted, 'test', {
      subjectId: String(landed._id),
      data: { n: 1, note: 'landed' },
    });
    // Staged and written, then the process died before the commit.
    const staged = await outbox.stage(Account, landed._id, [landedEvent]);
    landed.set(staged.mark);
    await landed.save();
    // Staged, then the process died before the write.
    const lost = new Account({ email: 'dennis@example.com', name: 'Dennis' });
    const lostEvent = createEvent(noted, 'test', {
      subjectId: String(lost._id),
      data: { n: 2, note: 'lost' },
    });
    await outbox.stage(Account, lost._id, [lostEvent]);

    assert.equal(await outbox.sweep(), 1, 'the landed write is confirmed and published');
    await waitFor(() => reader.messages.some((m) => m.headers['event-id'] === landedEvent.id), {
      what: 'the landed event on Kafka',
    });
    assert.equal(
      await connection.collection('outbox').countDocuments({ _id: lostEvent.id } as never),
      1,
      'kept while its write may still land',
    );
    await outbox.sweep(new Date(Date.now() + 11 * 60_000));
    assert.equal(await connection.collection('outbox').countDocuments({}), 0, 'dropped once abandoned');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(
      reader.messages.some((m) => m.headers['event-id'] === lostEvent.id),
      false,
      'never published',
    );
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

  test('dropMongoDatabase removes a database by its URL', async () => {
    const url = testMongoUrl('dropped');
    const name = new URL(url).pathname.slice(1);
    const other = await connectMongo(url, logger);
    const databases = async () =>
      ((await other.db!.admin().listDatabases()).databases as { name: string }[]).map((d) => d.name);
    try {
      await other.db!.collection('things').insertOne({ a: 1 });
      assert.ok((await databases()).includes(name));
      await dropMongoDatabase(url);
      assert.ok(!(await databases()).includes(name), 'the database is gone');
    } finally {
      await other.close();
    }
  });
});
