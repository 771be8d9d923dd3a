// The local FerretDB's index keeper (infra/local/ferretdb/ginindex.go): FerretDB's PostgreSQL
// backend filters a field as `_jsonb -> 'field' @> value`, which its own B-tree indexes cannot
// answer; every top-level field of every index it makes gets a GIN index that can.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import mongoose from 'mongoose';
import pg from 'pg';
import { dropMongoDatabase, testMongoUrl, waitFor } from '@trellis/shared/testing';
import { endpoints, paths } from '../local/config.ts';
import { withDatabase } from '../local/services.ts';

// Only where the local stack runs FerretDB (not with an external MONGO_URL).
const localFerret = existsSync(paths.pid('ferretdb'));

describe('local FerretDB: equality filters search an index', { skip: !localFerret }, () => {
  const url = testMongoUrl('ginindex');
  const schema = new URL(url).pathname.slice(1);
  let connection: mongoose.Connection;
  let sql: pg.Client;

  before(async () => {
    connection = await mongoose.createConnection(url).asPromise();
    sql = new pg.Client({ connectionString: withDatabase(endpoints.databaseUrl, 'ferretdb') });
    await sql.connect();
  });
  after(async () => {
    await sql.end();
    await connection.close();
    await dropMongoDatabase(url);
  });

  const tableOf = async (collection: string): Promise<string> => {
    const { rows } = await sql.query<{ table: string }>(
      `SELECT _jsonb->>'table' AS table FROM ${sql.escapeIdentifier(schema)}._ferretdb_database_metadata
       WHERE _jsonb->>'_id' = $1`,
      [collection],
    );
    assert.ok(rows[0], `FerretDB keeps ${collection} in a table of schema ${schema}`);
    return rows[0].table;
  };

  /** The GIN-indexed fields of a table. */
  const ginFields = async (table: string): Promise<string[]> => {
    const { rows } = await sql.query<{ indexdef: string }>(
      `SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 AND indexdef LIKE '%USING gin%'`,
      [schema, table],
    );
    return rows.map(({ indexdef }) => /_jsonb -> '([^']+)'/.exec(indexdef)?.[1] ?? indexdef).sort();
  };

  /** The plan of the statement FerretDB v1.24 sends for `find({[field]: value})`. */
  const plan = async (table: string, field: string, value: string): Promise<string> => {
    await sql.query('BEGIN');
    try {
      // A few hundred rows fit in a handful of pages, where a sequential scan is cheaper: ask whether
      // the index can answer FerretDB's operator at all.
      await sql.query('SET LOCAL enable_seqscan = off');
      const { rows } = await sql.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN SELECT _jsonb FROM ${sql.escapeIdentifier(schema)}.${sql.escapeIdentifier(table)}
         WHERE _jsonb -> ${sql.escapeLiteral(field)} @> $1::jsonb`,
        [JSON.stringify(value)],
      );
      return rows.map((row) => row['QUERY PLAN']).join('\n');
    } finally {
      await sql.query('ROLLBACK');
    }
  };

  test('leading and unique fields of the indexes, and _id, get a GIN index that FerretDB’s filter uses', async () => {
    const things = connection.db!.collection<{
      _id: string;
      owner: string;
      n: number;
      meta: { tag: string };
    }>('things');
    await things.insertMany(
      Array.from({ length: 300 }, (_, n) => ({
        _id: `thing-${n}`,
        owner: `owner-${n % 10}`,
        n,
        meta: { tag: 't' },
      })),
    );
    await things.createIndex({ owner: 1, n: -1 });
    await things.createIndex({ owner: 1, serial: 1 }, { unique: true });
    await things.createIndex({ 'meta.tag': 1 });
    const table = await tableOf('things');

    const fields = await waitFor(
      async () => {
        const found = await ginFields(table);
        return found.length === 3 ? found : undefined;
      },
      { timeoutMs: 5_000, what: `GIN indexes on ${table}` },
    );
    // `n` only sorts (a later field of a non-unique index); a nested field is filtered with another
    // operator (`#>`), which such an index would not serve.
    assert.deepEqual(fields, ['_id', 'owner', 'serial']);
    assert.match(await plan(table, 'owner', 'owner-3'), /Bitmap Index Scan on \S+_trellis_gin/);
    assert.match(await plan(table, '_id', 'thing-42'), /Bitmap Index Scan on \S+_trellis_gin/);

    // FerretDB still answers, and lists only its own indexes.
    assert.equal(await things.countDocuments({ owner: 'owner-3' }), 30);
    assert.equal((await things.findOne({ _id: 'thing-42' }))?.n, 42);
    const names = (await things.listIndexes().toArray()).map((index) => index.name as string);
    assert.deepEqual(names.sort(), ['_id_', 'meta.tag_1', 'owner_1_n_-1', 'owner_1_serial_1']);
  });
});
