import mongoose, { type Connection } from 'mongoose';
import type { Logger } from 'pino';

/**
 * Opens a dedicated connection (not mongoose's global one), so a process — or a test — can hold
 * several. Only features FerretDB v1 also supports are used by our services (architecture.md §5).
 */
export async function connectMongo(url: string, logger: Logger): Promise<Connection> {
  const connection = mongoose.createConnection(url, {
    serverSelectionTimeoutMS: 5_000,
    maxPoolSize: 20,
    autoIndex: true,
  });
  connection.on('disconnected', () => logger.warn('mongodb disconnected'));
  connection.on('reconnected', () => logger.info('mongodb reconnected'));
  await connection.asPromise();
  return connection;
}

export async function pingMongo(connection: Connection): Promise<void> {
  const db = connection.db;
  if (!db) throw new Error('mongodb not connected');
  await db.admin().ping();
}

export function isDuplicateKeyError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 11000;
}

/**
 * Runs an upsert again when it lost a race to insert the same `_id` (E11000): MongoDB does not retry
 * that itself, and on the second try the document is there, so the update applies to it (or, for
 * `$setOnInsert`, rightly does nothing). Two writers of one document — an event consumer and a
 * request's fallback lookup — are routine.
 */
export async function upsertRetried<T>(upsert: () => PromiseLike<T>): Promise<T> {
  // FerretDB v1 finds, then inserts: under many writers a second try can lose once more.
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await upsert();
    } catch (err) {
      if (!isDuplicateKeyError(err) || attempt >= 3) throw err;
    }
  }
}
