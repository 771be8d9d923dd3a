import type { Client, QueryResult } from 'pg';
import type { Logger } from 'pino';
import type { Sequelize, Transaction } from 'sequelize';
import type { EventEnvelope } from './envelope.ts';
import type { EventBus } from './kafka.ts';
import { eventDefinition } from './registry.ts';
import {
  captureTraceContext,
  outsideTraces,
  relaySpans,
  type TraceCarrier,
} from '../observability/tracing.ts';

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
  /** The trace the row was written in (null when tracing is off). */
  trace_context: TraceCarrier | null;
}

/** Any fixed number; it names the relay's advisory lock so only one replica publishes at a time. */
const RELAY_LOCK_KEY = 7_243_002;

/**
 * Takes the relay lock and marks the oldest pending rows sent, returning them (RETURNING has no
 * order). Without the lock (another replica's relay is publishing and will get these) it marks
 * nothing. Runs inside the pass's transaction: a failed publish rolls the marks back.
 *
 * The outer `published_at IS NULL` is not redundant. The statement's snapshot is taken before the
 * lock: when another relay commits its pass between the two, the subquery still sees that pass's
 * rows as pending. The outer condition is checked again on the row's latest version, so those
 * rows are skipped instead of published a second time.
 */
const claimStatement = (limit: number) =>
  `WITH relay AS (SELECT pg_try_advisory_xact_lock(${RELAY_LOCK_KEY}) AS locked)
   UPDATE outbox SET published_at = now()
    WHERE published_at IS NULL
      AND seq IN (SELECT seq FROM outbox, relay
                   WHERE relay.locked AND published_at IS NULL ORDER BY seq LIMIT ${limit})
   RETURNING seq, topic, envelope, trace_context`;

/** pg's simple protocol (no values): several statements in one round trip; the last one's rows. */
const simpleQuery = (client: Client, text: string) =>
  new Promise<QueryResult>((resolve, reject) => {
    client.query(text, (err: Error | null, result: QueryResult | QueryResult[]) =>
      err ? reject(err) : resolve(Array.isArray(result) ? result.at(-1)! : result),
    );
  });

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
    // Written into the claim statement's text (the simple protocol carries no values).
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1)
      throw new Error('batchSize must be a positive integer');
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
    // Bind values, not replacements: the envelope's JSON travels as a value, neither escaped into
    // the SQL text in JS nor parsed again by PostgreSQL.
    const rows: string[] = [];
    const trace = captureTraceContext();
    const bind: unknown[] = trace ? [JSON.stringify(trace)] : [null];
    for (const event of list) {
      const n = bind.push(event.id, topicOf(event), event.subjectId, JSON.stringify(event));
      rows.push(`($${n - 3}, $${n - 2}, $${n - 1}, $${n}::jsonb, $1::jsonb)`);
    }
    await this.sequelize.query(
      `INSERT INTO outbox (id, topic, key, envelope, trace_context) VALUES ${rows.join(', ')}`,
      { bind, transaction },
    );
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
          await outsideTraces(() => this.drain());
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

  /**
   * Publishes every pending row now; returns how many were published. One transaction per pass on
   * one connection: claim (`claimStatement`), publish, commit. The commit of a pass and the claim of
   * the next travel together when more is pending (a full batch, or a commit woke the relay
   * meanwhile), and the first claim goes with its BEGIN: n passes take n + 1 round trips, not 3n.
   */
  async drain(): Promise<number> {
    const manager = this.sequelize.connectionManager;
    const client = (await manager.getConnection({ type: 'write' })) as Client;
    let total = 0;
    let open = false; // a pass's transaction is open on `client`, its rows published
    try {
      for (;;) {
        this.rerun = false;
        const claimed = await simpleQuery(
          client,
          `${open ? 'COMMIT; ' : ''}BEGIN; ${claimStatement(this.batchSize)}`,
        );
        open = true;
        const rows = (claimed.rows as OutboxRow[]).sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1));
        if (rows.length === 0) break;
        const spans = relaySpans(rows.map((row) => row.trace_context));
        try {
          await this.bus.publish(
            rows.map((row, i) => ({ topic: row.topic, event: row.envelope, trace: spans.carrier(i) })),
          );
          spans.end();
        } catch (err) {
          spans.end(err);
          open = false;
          await simpleQuery(client, 'ROLLBACK');
          await this.recordFailure(rows, err);
          throw err;
        }
        total += rows.length;
        if (rows.length < this.batchSize && !this.rerun) break;
      }
      await simpleQuery(client, 'COMMIT');
      open = false;
    } catch (err) {
      // A statement failed inside the transaction (or the commit did): nothing it marked stays marked.
      await simpleQuery(client, 'ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      manager.releaseConnection(client);
    }
    await this.cleanup();
    return total;
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
