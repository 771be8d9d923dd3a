import { Schema, type Connection, type Model } from 'mongoose';
import { QueryTypes, type Sequelize } from 'sequelize';
import type { IdempotencyRecord, IdempotencyStore } from '../http/idempotency.ts';
import { CoalescedInserts } from './mongo.ts';
import type { Migration } from './postgres.ts';

// Where the services keep Idempotency-Key answers (api.md §1): in their own database, PostgreSQL or
// MongoDB. The rules are in http/idempotency.ts.

export const idempotencyMigration: Migration = {
  name: '0100-idempotency-keys',
  up: async ({ sequelize }) => {
    await sequelize.query(`
      CREATE TABLE IF NOT EXISTS idempotency_keys (
        caller_id   text NOT NULL,
        key         text NOT NULL,
        fingerprint text NOT NULL,
        status      integer,
        headers     jsonb NOT NULL DEFAULT '{}'::jsonb,
        body        text,
        created_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (caller_id, key)
      );
      CREATE INDEX IF NOT EXISTS idempotency_keys_created ON idempotency_keys (created_at);
    `);
  },
};

interface Row {
  fingerprint: string;
  status: number | null;
  headers: Record<string, string>;
  body: string | null;
  created_at: Date;
}

export function postgresIdempotencyStore(sequelize: Sequelize): IdempotencyStore {
  return {
    async claim(callerId, key, fingerprint, at) {
      // The service's clock, not the database's: staleness is judged by the service.
      const rows = await sequelize.query(
        `INSERT INTO idempotency_keys (caller_id, key, fingerprint, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING RETURNING 1 AS claimed`,
        { bind: [callerId, key, fingerprint, at], type: QueryTypes.SELECT },
      );
      return rows.length > 0;
    },
    async find(callerId, key) {
      const [row] = await sequelize.query<Row>(
        'SELECT fingerprint, status, headers, body, created_at FROM idempotency_keys WHERE caller_id = $1 AND key = $2',
        { bind: [callerId, key], type: QueryTypes.SELECT },
      );
      return row ? recordOf(row) : null;
    },
    async complete(callerId, key, at, answer) {
      await sequelize.query(
        `UPDATE idempotency_keys SET status = $4, headers = $5::jsonb, body = $6
         WHERE caller_id = $1 AND key = $2 AND created_at = $3`,
        { bind: [callerId, key, at, answer.status, JSON.stringify(answer.headers), answer.body] },
      );
    },
    async release(callerId, key, at) {
      await sequelize.query(
        'DELETE FROM idempotency_keys WHERE caller_id = $1 AND key = $2 AND created_at = $3',
        {
          bind: [callerId, key, at],
        },
      );
    },
    async expire(before) {
      await sequelize.query('DELETE FROM idempotency_keys WHERE created_at < $1', { bind: [before] });
    },
  };
}

function recordOf(row: Row): IdempotencyRecord {
  return {
    fingerprint: row.fingerprint,
    status: row.status,
    headers: row.headers,
    body: row.body,
    createdAt: new Date(row.created_at),
  };
}

interface KeyDocument {
  /** `<caller id>:<key>` (the caller id is a UUID, so the pair cannot be read two ways). */
  _id: string;
  fingerprint: string;
  status: number | null;
  /** As JSON: header names are fine as keys, but the store needs no shape. */
  headers: string;
  body: string | null;
  createdAt: Date;
}

const keySchema = new Schema<KeyDocument>(
  {
    _id: { type: String, required: true },
    fingerprint: { type: String, required: true },
    status: { type: Number, default: null },
    headers: { type: String, default: '{}' },
    body: { type: String, default: null },
    createdAt: { type: Date, required: true, index: true },
  },
  { collection: 'idempotency_keys', versionKey: false },
);

/** On this connection; `_id` is the only index that matters (mongoose builds the other in the background). */
export function mongoIdempotencyStore(connection: Connection): IdempotencyStore {
  const keys =
    (connection.models.IdempotencyKey as Model<KeyDocument> | undefined) ??
    connection.model<KeyDocument>('IdempotencyKey', keySchema);
  const id = (callerId: string, key: string) => `${callerId}:${key}`;
  const inserts = new CoalescedInserts(keys);
  return {
    claim(callerId, key, fingerprint, at) {
      // A unique `_id` insert: false when the key is taken.
      return inserts.insert({
        _id: id(callerId, key),
        fingerprint,
        status: null,
        headers: '{}',
        body: null,
        createdAt: at,
      });
    },
    async find(callerId, key) {
      const doc = await keys.findById(id(callerId, key)).lean<KeyDocument>();
      return doc
        ? {
            fingerprint: doc.fingerprint,
            status: doc.status,
            headers: JSON.parse(doc.headers) as Record<string, string>,
            body: doc.body,
            createdAt: doc.createdAt,
          }
        : null;
    },
    async complete(callerId, key, at, answer) {
      await keys.updateOne(
        { _id: id(callerId, key), createdAt: at },
        { $set: { status: answer.status, headers: JSON.stringify(answer.headers), body: answer.body } },
      );
    },
    async release(callerId, key, at) {
      await keys.deleteOne({ _id: id(callerId, key), createdAt: at });
    },
    async expire(before) {
      await keys.deleteMany({ createdAt: { $lt: before } });
    },
  };
}
