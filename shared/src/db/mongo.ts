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
