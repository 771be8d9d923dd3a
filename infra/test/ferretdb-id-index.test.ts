// The local FerretDB's `_id` index keeper (infra/local/ferretdb/idindex.go): every collection's
// table gets an index on the expression FerretDB's SQLite backend filters `_id` with, so lookups by
// `_id` search that index instead of reading the whole table.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import mongoose from 'mongoose';
import { dropMongoDatabase, testMongoUrl, waitFor } from '@trellis/shared/testing';
import { paths } from '../local/config.ts';

/** The query FerretDB v1.24's SQLite backend sends for a find, update or delete by `_id`. */
const ferretIdQuery = (table: string) =>
  `EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM "${table}" WHERE _ferretdb_sjson->'$._id' = ?`;

// Only where the local stack runs FerretDB (not with an external MONGO_URL).
const localFerret = existsSync(paths.pid('ferretdb'));

describe('local FerretDB: lookups by _id use an index', { skip: !localFerret }, () => {
  const url = testMongoUrl('idindex');
  const database = new URL(url).pathname.slice(1);
  let connection: mongoose.Connection;

  before(async () => {
    connection = await mongoose.createConnection(url).asPromise();
  });
  after(async () => {
    await connection.close();
    await dropMongoDatabase(url);
  });

  const file = () => join(paths.data('ferretdb'), `${database}.sqlite`);

  /** The plan of FerretDB's `_id` query on a collection; a fresh connection per look (one kept open went on planning with the schema it first read). */
  const explain = (collection: string) => {
    const sqlite = new DatabaseSync(file(), { readOnly: true });
    try {
      const { table_name: table } = sqlite
        .prepare('SELECT table_name FROM _ferretdb_collections WHERE name = ?')
        .get(collection) as { table_name: string };
      const rows = sqlite.prepare(ferretIdQuery(table)).all('"thing-7"') as Array<{ detail: string }>;
      return rows.map((row) => row.detail).join(' | ');
    } finally {
      sqlite.close();
    }
  };
  const indexed = (collection: string) =>
    waitFor(() => (/_trellis_id_path/.test(explain(collection)) ? explain(collection) : undefined), {
      timeoutMs: 5_000,
      what: `the _id index on ${collection}`,
    });

  test('a new collection gets the index within a few seconds, and the query plan searches it', async () => {
    const collection = connection.db!.collection<{ _id: string; n: number }>('things');
    await collection.insertMany(Array.from({ length: 50 }, (_, n) => ({ _id: `thing-${n}`, n })));
    assert.ok(existsSync(file()), `FerretDB keeps the database in ${file()}`);
    assert.match(await indexed('things'), /^SEARCH .* USING INDEX \S+_trellis_id_path/);
    // FerretDB still answers by `_id`, and lists only its own indexes.
    assert.equal((await collection.findOne({ _id: 'thing-49' }))?.n, 49);
    const indexes = await collection.listIndexes().toArray();
    assert.deepEqual(
      indexes.map((index) => index.name),
      ['_id_'],
    );
  });

  test('a database dropped and created again under its name gets the index too', async () => {
    await connection.db!.dropDatabase();
    await connection.db!.collection('again').insertOne({ _id: 'thing-7' as never });
    assert.match(await indexed('again'), /^SEARCH .* USING INDEX \S+_trellis_id_path/);
  });
});
