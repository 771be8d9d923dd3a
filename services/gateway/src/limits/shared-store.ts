import type { ClientRateLimitInfo, Options, Store } from 'express-rate-limit';
import type { Client } from 'pg';
import { Counter, type Registry } from 'prom-client';
import type { Sequelize } from 'sequelize';
import type { Logger } from '@trellis/shared';

/**
 * Reserves for a batch of callers at once: for each (window, key), up to `wanted` units from the
 * shared row, never past its `budget` (the caller's limit). `granted` is what this reservation got,
 * `used` what every replica has taken; no row back: that window was already exhausted (the WHERE
 * spares the row a write). Rows are taken in one order, (window, key), so two replicas' batches
 * wait for each other's row locks but can never deadlock.
 */
const RESERVE = {
  name: 'gateway_rate_limit_reserve',
  text: `
    INSERT INTO rate_limit AS r (window_start, key, used, granted, budget)
    SELECT w, k, LEAST(n, b), LEAST(n, b), b
    FROM unnest($1::timestamptz[], $2::text[], $3::integer[], $4::integer[]) AS t (w, k, n, b)
    ORDER BY w, k
    ON CONFLICT (window_start, key) DO UPDATE
      SET used = r.used + LEAST(excluded.granted, excluded.budget - r.used),
          granted = LEAST(excluded.granted, excluded.budget - r.used),
          budget = excluded.budget
      WHERE r.used < excluded.budget
    RETURNING window_start, key, used, granted`,
};
const PRUNE = { name: 'gateway_rate_limit_prune', text: 'DELETE FROM rate_limit WHERE window_start < $1' };
const RESET = {
  name: 'gateway_rate_limit_reset',
  text: 'DELETE FROM rate_limit WHERE window_start = $1 AND key = $2',
};
/** Callers per reservation statement at most (a larger backlog goes in several). */
const MAX_BATCH = 500;
/**
 * The largest lease, as a share of the limit: what one replica may strand when a caller leaves it,
 * against how many requests one round trip serves.
 */
const LEASE_SHARE = 0.01;

interface Reserved {
  window_start: Date;
  key: string;
  used: number;
  granted: number;
}

/** One caller's reservation waiting for the next batch. */
interface Reservation {
  window: number;
  key: string;
  wanted: number;
  budget: number;
  settle: (reserved: Reserved | undefined, err?: unknown) => void;
}

/** What one replica holds of one caller's window. */
interface Lease {
  /** Start of the window (ms since the epoch, a multiple of the window length). */
  window: number;
  limit: number;
  /** Units reserved from the shared row and not served yet: served without a round trip. */
  held: number;
  /** The shared row's count when last seen, `held` included: what RateLimit-Remaining is based on. */
  shared: number;
  /** Size of the next reservation: 1, doubling per reservation up to the cap. */
  next: number;
  /** The shared row reached the limit: refuse until the window ends, without asking again. */
  exhausted: boolean;
  /** Hits counted here alone while the shared store was unreachable this window. */
  local: number;
  /** The reservation in flight: concurrent requests of the caller wait for it instead of each asking. */
  pending: Promise<void> | undefined;
}

export interface SharedRateLimitStoreOptions {
  sequelize: Sequelize;
  /** The budget of a key (`callerLimit`): express-rate-limit tells a store the key, not the limit. */
  limitFor: (key: string) => number;
  logger: Logger;
  registry: Registry;
  /** A reservation that takes longer counts as a failure (the fallback); default 500 ms. */
  timeoutMs?: number;
  /** The time the windows are taken from; tests move it. */
  now?: () => number;
}

/**
 * An express-rate-limit store whose counts hold across gateway replicas: one row per caller and
 * window in PostgreSQL, reserved from in leases (README, "Rate limits across replicas"). Windows are
 * aligned on the epoch, so every replica agrees on them without talking. A replica reserves units
 * atomically, never past the limit, and serves requests from what it holds; a lease starts at 1 and
 * doubles per reservation up to 1 % of the limit, so at most (replicas − 1) × that cap stays
 * stranded in other replicas when a caller stops: it may get a little less than the limit, never more.
 * The reservations of different callers made in one turn of the event loop share a statement.
 * PostgreSQL unreachable: this replica counts alone until the window ends (warning, metric).
 */
export class SharedRateLimitStore implements Store {
  readonly localKeys = false;
  private windowMs = 60_000;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  /** The leases of the current window; replaced, not swept, when the next one starts. */
  private leases = new Map<string, Lease>();
  private leasesWindow = 0;
  /** The window in which the shared store failed: counted locally until it ends. */
  private fallbackWindow: number | undefined;
  /** Reservations for the next batch, and the flush that will send them. */
  private queued: Reservation[] = [];
  private flushing: ReturnType<typeof setImmediate> | undefined;
  private pruneTimer: ReturnType<typeof setInterval> | undefined;
  private readonly errors: Counter<'operation'>;
  private readonly options: SharedRateLimitStoreOptions;

  constructor(options: SharedRateLimitStoreOptions) {
    this.options = options;
    this.timeoutMs = options.timeoutMs ?? 500;
    this.now = options.now ?? Date.now;
    this.errors = new Counter({
      name: 'gateway_rate_limit_store_errors_total',
      help: 'Failed calls to the shared rate-limit store; a failed reservation counts the rest of its window locally.',
      labelNames: ['operation'] as const,
      registers: [options.registry],
    });
  }

  /** Called by express-rate-limit: the window length is its `windowMs`; starts the periodic prune. */
  init(options: Options): void {
    this.windowMs = options.windowMs;
    clearInterval(this.pruneTimer);
    this.pruneTimer = setInterval(() => void this.prune(), this.windowMs);
    this.pruneTimer.unref();
  }

  async increment(key: string): Promise<ClientRateLimitInfo> {
    const lease = this.leaseFor(key, this.now());
    const resetTime = new Date(lease.window + this.windowMs);
    for (;;) {
      if (lease.held > 0) {
        lease.held -= 1;
        return { totalHits: lease.shared - lease.held + lease.local, resetTime };
      }
      if (lease.exhausted) return { totalHits: lease.limit + 1, resetTime };
      if (this.fallbackWindow === lease.window) {
        lease.local += 1;
        return { totalHits: lease.shared + lease.local, resetTime };
      }
      lease.pending ??= this.reserve(key, lease);
      await lease.pending;
    }
  }

  /**
   * Nothing: a refused hit takes no unit here, so a refund could not tell whether it gives back a
   * unit that was served or mints one that never was. express-rate-limit calls it only for
   * `skipFailedRequests`/`skipSuccessfulRequests`, which the gateway does not set.
   */
  decrement(): void {}

  /**
   * Forgets the caller's current window here and in the shared row (other replicas keep their
   * leases). The lease is emptied, not dropped: a reservation in flight stays the only one.
   */
  async resetKey(key: string): Promise<void> {
    const lease = this.leaseFor(key, this.now());
    Object.assign(lease, { held: 0, shared: 0, next: 1, exhausted: false, local: 0 });
    await this.query(RESET, [new Date(lease.window), key]);
  }

  /** Stops the prune; the pool is the caller's to close (after the last reservation). */
  shutdown(): void {
    clearInterval(this.pruneTimer);
  }

  /**
   * Deletes the windows that ended more than a window ago (a replica whose clock lags a little may
   * still count in the last one). Every replica does it every window: the range scan finds nothing
   * once one has, so it stays cheap, and bounded by one window's callers.
   */
  async prune(now = this.now()): Promise<number> {
    try {
      const { rowCount } = await this.query(PRUNE, [new Date(this.windowOf(now) - this.windowMs)]);
      return rowCount ?? 0;
    } catch (err) {
      this.errors.inc({ operation: 'prune' });
      this.options.logger.warn({ err }, 'could not prune the rate-limit windows');
      return 0;
    }
  }

  private windowOf(now: number): number {
    return now - (now % this.windowMs);
  }

  private leaseFor(key: string, now: number): Lease {
    const window = this.windowOf(now);
    if (window !== this.leasesWindow) {
      this.leases = new Map();
      this.leasesWindow = window;
    }
    let lease = this.leases.get(key);
    if (lease === undefined) {
      const limit = this.options.limitFor(key);
      lease = { window, limit, held: 0, shared: 0, next: 1, exhausted: false, local: 0, pending: undefined };
      this.leases.set(key, lease);
    }
    return lease;
  }

  private async reserve(key: string, lease: Lease): Promise<void> {
    const wanted = lease.next;
    lease.next = Math.min(wanted * 2, Math.max(1, Math.floor(lease.limit * LEASE_SHARE)));
    try {
      const reserved = await this.withTimeout(
        new Promise<Reserved | undefined>((resolve, reject) => {
          const settle = (row: Reserved | undefined, err?: unknown) => (err ? reject(err) : resolve(row));
          this.queued.push({ window: lease.window, key, wanted, budget: lease.limit, settle });
          this.flushing ??= setImmediate(() => void this.flush());
        }),
      );
      lease.held += reserved?.granted ?? 0;
      lease.shared = reserved?.used ?? Math.max(lease.shared, lease.limit);
      lease.exhausted = lease.shared >= lease.limit;
    } catch (err) {
      this.errors.inc({ operation: 'reserve' });
      if (this.fallbackWindow !== lease.window) {
        this.fallbackWindow = lease.window;
        this.options.logger.warn(
          { err, windowEnds: new Date(lease.window + this.windowMs).toISOString() },
          'rate-limit store unreachable: this replica counts alone until the window ends',
        );
      }
    } finally {
      lease.pending = undefined;
    }
  }

  /**
   * Sends the reservations queued since the last flush as one statement: callers arriving in the
   * same turn of the event loop share a round trip, so a busy gateway pays far less than one per
   * reservation. A caller has one reservation at a time here, so a batch never names a row twice.
   */
  private async flush(): Promise<void> {
    const batch = this.queued.splice(0, MAX_BATCH);
    this.flushing = this.queued.length > 0 ? setImmediate(() => void this.flush()) : undefined;
    try {
      const { rows } = await this.query(RESERVE, [
        batch.map(({ window }) => new Date(window)),
        batch.map(({ key }) => key),
        batch.map(({ wanted }) => wanted),
        batch.map(({ budget }) => budget),
      ]);
      const reserved = new Map(
        (rows as Reserved[]).map((row) => [`${row.window_start.getTime()} ${row.key}`, row]),
      );
      for (const { window, key, settle } of batch) settle(reserved.get(`${window} ${key}`));
    } catch (err) {
      for (const { settle } of batch) settle(undefined, err);
    }
  }

  private async withTimeout<T>(work: Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`rate-limit store did not answer within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A named (prepared once per connection) statement on a pooled connection of its own: about half
   * the client CPU of `sequelize.query`, which matters on the gateway's hot path.
   */
  private async query(statement: { name: string; text: string }, values: unknown[]) {
    const { connectionManager } = this.options.sequelize;
    const connection = (await connectionManager.getConnection({ type: 'write' })) as Client;
    try {
      return await connection.query({ ...statement, values });
    } finally {
      connectionManager.releaseConnection(connection);
    }
  }
}
