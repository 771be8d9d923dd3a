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

/** One refused document of a bulk insert: its position, and whether a unique index refused it. */
export interface RefusedDocument {
  index: number;
  duplicate: boolean;
}

/**
 * The documents a failed `insertMany` refused, or undefined when the error is not about documents
 * (a lost connection, a timeout): then nothing can be said of any of them. The driver's WriteError
 * has `code`; mongoose hands over plain copies with it under `err`.
 */
export function refusedDocuments(err: unknown): RefusedDocument[] | undefined {
  const writeErrors = [(err as { writeErrors?: unknown }).writeErrors ?? []].flat() as Array<{
    index: number;
    err?: unknown;
  }>;
  if (writeErrors.length === 0) return undefined;
  return writeErrors.map((e) => ({
    index: e.index,
    duplicate: isDuplicateKeyError(e) || isDuplicateKeyError(e.err),
  }));
}

interface Pending<I, R> {
  item: I;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}

/**
 * Operations asked for by concurrent callers (a fetched batch's lanes, whose I/O completes together)
 * gathered into one command per turn of the event loop: one round trip and one statement for
 * several events, where each cost FerretDB v1 about a millisecond of CPU. A failure of the whole
 * command rejects every caller of it; a document the command refused, its caller only (or, for a
 * unique index's refusal, `duplicate` says what that caller gets).
 */
abstract class PerTurn<I, R> {
  private pending: Array<Pending<I, R>> = [];

  private readonly done: R;
  private readonly duplicate: ((err: unknown) => R) | 'reject';
  private readonly windowMs: number;

  /** `windowMs`: gather for that long instead of one turn (writes nobody waits on, done in a trickle). */
  protected constructor(done: R, duplicate: ((err: unknown) => R) | 'reject', windowMs = 0) {
    this.done = done;
    this.duplicate = duplicate;
    this.windowMs = windowMs;
  }

  protected add(item: I): Promise<R> {
    return new Promise((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.pending.length > 1) return;
      // After the I/O callbacks of this turn, so that the callers they resume are gathered too.
      if (this.windowMs > 0) setTimeout(() => void this.flush(), this.windowMs);
      else setImmediate(() => void this.flush());
    });
  }

  protected abstract write(items: I[]): Promise<unknown>;

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    try {
      await this.write(batch.map(({ item }) => item));
      for (const { resolve } of batch) resolve(this.done);
    } catch (err) {
      const refused = refusedDocuments(err);
      if (!refused) {
        for (const { reject } of batch) reject(err);
        return;
      }
      const byIndex = new Map(refused.map((r) => [r.index, r]));
      batch.forEach(({ resolve, reject }, index) => {
        const refusal = byIndex.get(index);
        if (!refusal) resolve(this.done);
        else if (refusal.duplicate && this.duplicate !== 'reject') resolve(this.duplicate(err));
        else reject(err);
      });
    }
  }
}

/**
 * Inserts into one collection, in one unordered `insertMany` per turn. Each caller learns whether its
 * document went in (true) or a unique index refused it (false: a redelivery).
 */
export class CoalescedInserts<T> extends PerTurn<T, boolean> {
  private readonly model: mongoose.Model<T>;

  constructor(model: mongoose.Model<T>) {
    super(true, () => false);
    this.model = model;
  }

  insert(doc: T): Promise<boolean> {
    return this.add(doc);
  }

  protected write(docs: T[]): Promise<unknown> {
    return this.model.insertMany(docs, { ordered: false, lean: true });
  }
}

/** Single-document updates of one collection, in one unordered `bulkWrite` per turn (or per `windowMs`). */
export class CoalescedUpdates<T> extends PerTurn<
  { filter: Record<string, unknown>; update: Record<string, unknown> },
  void
> {
  private readonly model: mongoose.Model<T>;

  constructor(model: mongoose.Model<T>, options: { windowMs?: number } = {}) {
    super(undefined, 'reject', options.windowMs);
    this.model = model;
  }

  updateOne(filter: Record<string, unknown>, update: Record<string, unknown>): Promise<void> {
    return this.add({ filter, update });
  }

  protected write(
    items: { filter: Record<string, unknown>; update: Record<string, unknown> }[],
  ): Promise<unknown> {
    return this.model.bulkWrite(
      items.map(({ filter, update }) => ({ updateOne: { filter, update } })) as never,
      { ordered: false },
    );
  }
}
