import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import type { Logger } from 'pino';
import type { EventEnvelope } from './envelope.ts';
import type { EventBus } from './kafka.ts';
import { eventDefinition } from './registry.ts';

export interface PgOutboxOptions {
  sequelize: Sequelize;
  bus: EventBus;
  logger: Logger;
  /** The sweep that catches rows whose wake-up was lost (crash between commit and publish). */
  sweepIntervalMs?: number;
  batchSize?: number;
  /** Published rows are kept this long for inspection, then deleted by the sweep. */
  retentionMs?: number;
}

/** Work that must commit atomically with a batch of events (e.g. an audit log append). */
export type OutboxHook = (transaction: Transaction, events: EventEnvelope[]) => Promise<void>;

interface OutboxRow {
  seq: string;
  topic: string;
  envelope: EventEnvelope;
}

/** Any fixed number; it names the relay's advisory lock so only one replica publishes at a time. */
const RELAY_LOCK_KEY = 7_243_002;

function topicOf(event: EventEnvelope): string {
  const definition = eventDefinition(event.type);
  if (!definition)
    throw new Error(`Unknown event type ${event.type}: define it in shared/src/events/catalogue`);
  return definition.topic;
}

/**
 * Transactional outbox on PostgreSQL. `add` writes events in the caller's transaction; once that
 * transaction commits the relay is woken and publishes them in order, marking them sent. A
 * periodic sweep publishes anything left behind. Publication is at-least-once (a crash after the
 * broker's ack but before marking re-sends), which the consumers' inbox makes harmless.
 */
export class PgOutbox {
  private readonly sequelize: Sequelize;
  private readonly bus: EventBus;
  private readonly logger: Logger;
  private readonly sweepIntervalMs: number;
  private readonly batchSize: number;
  private readonly retentionMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private rerun = false;
  private lastCleanup = 0;
  private readonly hooks: OutboxHook[] = [];

  constructor(options: PgOutboxOptions) {
    this.sequelize = options.sequelize;
    this.bus = options.bus;
    this.logger = options.logger.child({ component: 'outbox' });
    this.sweepIntervalMs = options.sweepIntervalMs ?? 1_000;
    this.batchSize = options.batchSize ?? 200;
    this.retentionMs = options.retentionMs ?? 24 * 3600_000;
  }

  /** Runs `hook` inside the transaction of every `add`, before the events are written. */
  onAdd(hook: OutboxHook): void {
    this.hooks.push(hook);
  }

  /** Writes events inside `transaction`; they are published only if it commits. */
  async add(transaction: Transaction, events: EventEnvelope | EventEnvelope[]): Promise<void> {
    const list = Array.isArray(events) ? events : [events];
    if (list.length === 0) return;
    for (const hook of this.hooks) await hook(transaction, list);
    const values: string[] = [];
    const replacements: Record<string, unknown> = {};
    list.forEach((event, i) => {
      values.push(`(:id${i}, :topic${i}, :key${i}, :envelope${i}::jsonb)`);
      replacements[`id${i}`] = event.id;
      replacements[`topic${i}`] = topicOf(event);
      replacements[`key${i}`] = event.subjectId;
      replacements[`envelope${i}`] = JSON.stringify(event);
    });
    await this.sequelize.query(`INSERT INTO outbox (id, topic, key, envelope) VALUES ${values.join(', ')}`, {
      replacements,
      transaction,
    });
    transaction.afterCommit(() => this.wake());
  }

  /** Starts the sweep and publishes whatever an earlier process left unpublished. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.wake(), this.sweepIntervalMs);
    this.timer.unref();
    this.wake();
  }

  /** Asks for a relay pass; passes never overlap, and a wake during one schedules another. */
  wake(): void {
    if (this.running) {
      this.rerun = true;
      return;
    }
    this.running = (async () => {
      do {
        this.rerun = false;
        try {
          await this.drain();
        } catch (err) {
          this.logger.error({ err }, 'outbox relay pass failed; the sweep will retry');
        }
      } while (this.rerun);
    })().finally(() => {
      this.running = undefined;
    });
  }

  /** Stops the sweep and waits for a last pass, so nothing committed stays behind at shutdown. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    await this.drain();
  }

  /** Publishes every pending row now; returns how many were published. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const published = await this.publishBatch();
      total += published;
      if (published < this.batchSize) break;
    }
    await this.cleanup();
    return total;
  }

  /**
   * One pass in three round trips: the transaction, one statement that takes the relay lock and
   * marks the oldest pending rows sent (returning them), the commit after Kafka has them. A failed
   * publish rolls the marks back. Without the lock (another replica's relay is publishing and will
   * get these), the statement marks nothing.
   */
  private async publishBatch(): Promise<number> {
    let rows: OutboxRow[] = [];
    try {
      return await this.sequelize.transaction(async (transaction) => {
        rows = await this.sequelize.query<OutboxRow>(
          `WITH relay AS (SELECT pg_try_advisory_xact_lock(:key) AS locked)
           UPDATE outbox SET published_at = now()
            WHERE seq IN (SELECT seq FROM outbox, relay
                           WHERE relay.locked AND published_at IS NULL ORDER BY seq LIMIT :limit)
           RETURNING seq, topic, envelope`,
          {
            replacements: { key: RELAY_LOCK_KEY, limit: this.batchSize },
            type: QueryTypes.SELECT,
            transaction,
          },
        );
        if (rows.length === 0) return 0;
        rows.sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1)); // RETURNING has no order
        await this.bus.publish(rows.map((row) => ({ topic: row.topic, event: row.envelope })));
        return rows.length;
      });
    } catch (err) {
      if (rows.length) await this.recordFailure(rows, err);
      throw err;
    }
  }

  private async recordFailure(rows: OutboxRow[], err: unknown): Promise<void> {
    const message = err instanceof Error ? err.message : String(err);
    await this.sequelize
      .query('UPDATE outbox SET attempts = attempts + 1, last_error = :message WHERE seq IN (:seqs)', {
        replacements: { message: message.slice(0, 2_000), seqs: rows.map((r) => r.seq) },
      })
      .catch((updateErr: unknown) => this.logger.warn({ err: updateErr }, 'could not record outbox failure'));
  }

  private async cleanup(): Promise<void> {
    const now = Date.now();
    if (now - this.lastCleanup < 60_000) return;
    this.lastCleanup = now;
    await this.sequelize.query(
      `DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < now() - (:ms || ' milliseconds')::interval`,
      { replacements: { ms: String(this.retentionMs) } },
    );
  }
}
