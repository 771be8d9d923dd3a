import { randomUUID } from 'node:crypto';
import { Schema, type Connection, type Model } from 'mongoose';
import type { Logger } from 'pino';
import {
  captureTraceContext,
  outsideTraces,
  parseTraceCarrier,
  relaySpans,
} from '../observability/tracing.ts';
import type { EventEnvelope } from './envelope.ts';
import type { EventBus } from './kafka.ts';
import { eventDefinition } from './registry.ts';

/**
 * The MongoDB outbox (architecture.md §3: "an outbox collection written first and swept").
 *
 * Why not keep the events inside the changed document: FerretDB v1 applies every update as a read
 * followed by a write by `_id`, with nothing in between to stop a second writer. A relay clearing
 * published events from a document could therefore put back the version it read and erase a
 * change made meanwhile (seen in CI: an announcement's deletion vanished together with its event).
 * So the relay never writes a business document; it only reads them.
 *
 * One write of a document with events goes:
 * 1. `stage`: the events are inserted into `outbox`, unconfirmed, under a fresh `rev`;
 * 2. the change is written, carrying `_outboxRev: rev` in the same single-document write;
 * 3. `commit`: the entries are marked confirmed and the relay publishes and deletes them.
 * A write that fails or matches nothing drops its entries. A process that dies between 1 and 3
 * leaves unconfirmed entries: the sweep publishes them when the document carries their `rev` (the
 * write landed) and drops them once they are `abandonAfterMs` old without it (it never did).
 *
 * The one case this cannot decide: a crash in the moment between steps 2 and 3, followed by
 * another write of the same document (a new `rev`) before the sweep looks. Those events are then
 * dropped with a warning. MongoDB proper would close that gap with a transaction; FerretDB v1 has
 * none.
 */
export function outboxPlugin(schema: Schema): void {
  schema.add({ _outboxRev: { type: String, default: undefined } });
  const hide = (_doc: unknown, ret: Record<string, unknown>) => {
    delete ret._outboxRev;
    return ret;
  };
  schema.set('toJSON', { ...(schema.get('toJSON') ?? {}), transform: hide });
  schema.set('toObject', { ...(schema.get('toObject') ?? {}), transform: hide });
}

/** What the document write must `$set` (or `doc.set`) so the sweep can tell that it landed. */
export interface OutboxMark {
  _outboxRev: string;
}

/** A write's events, staged in the outbox and waiting for that write. */
export interface StagedEvents {
  readonly rev: string;
  readonly mark: OutboxMark;
  readonly ids: string[];
}

/** The write side of the outbox, as services use it. */
export interface OutboxWriter {
  /**
   * Stages `events`, runs `write` with the mark to store in the same document write, then
   * commits them. `write` answers `null` when it changed nothing: the events are dropped, and so
   * they are when it throws.
   */
  write<T>(
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any model using outboxPlugin
    model: Model<any>,
    id: unknown,
    events: EventEnvelope[],
    write: (mark: OutboxMark) => Promise<T | null>,
  ): Promise<T | null>;
}

interface OutboxEntry {
  _id: string;
  /** The envelope as JSON: event data may hold keys with dots, which FerretDB refuses. */
  event: string;
  model: string;
  docId: unknown;
  rev: string;
  committed: boolean;
  stagedAt: Date;
  /** The event's place within its write, so a write's events keep their order. */
  position: number;
  /** The trace the write was made in, as JSON (absent when tracing is off). */
  trace?: string;
}

const entrySchema = new Schema<OutboxEntry>(
  {
    _id: { type: String, required: true },
    event: { type: String, required: true },
    model: { type: String, required: true },
    docId: { type: Schema.Types.Mixed, required: true },
    rev: { type: String, required: true },
    committed: { type: Boolean, required: true },
    stagedAt: { type: Date, required: true },
    position: { type: Number, required: true },
    trace: { type: String, required: false },
  },
  { collection: 'outbox', versionKey: false },
);

export interface MongoOutboxOptions {
  connection: Connection;
  bus: EventBus;
  logger: Logger;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any model using outboxPlugin
  models: Array<Model<any>>;
  sweepIntervalMs?: number;
  /** Unconfirmed entries younger than this are left to the writer that staged them (default 2 s). */
  graceMs?: number;
  /** Unconfirmed entries whose write is not on their document after this are dropped (default 10 min). */
  abandonAfterMs?: number;
}

/** Entries read per relay pass; the outbox stays small (entries live for milliseconds). */
const BATCH = 500;

/**
 * Relay for `outboxPlugin` documents: publishes right after each commit, and sweeps periodically
 * for what a crashed process or an unreachable broker left. At-least-once, like the PostgreSQL
 * relay; consumers deduplicate by event id. Relay passes are serialised per process.
 */
export class MongoOutbox implements OutboxWriter {
  private readonly Entry: Model<OutboxEntry>;
  private readonly bus: EventBus;
  private readonly logger: Logger;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private readonly models: Map<string, Model<any>>;
  private readonly sweepIntervalMs: number;
  private readonly graceMs: number;
  private readonly abandonAfterMs: number;
  private timer: NodeJS.Timeout | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private drainQueued: Promise<number> | undefined;

  constructor(options: MongoOutboxOptions) {
    this.Entry =
      (options.connection.models.OutboxEntry as Model<OutboxEntry> | undefined) ??
      options.connection.model<OutboxEntry>('OutboxEntry', entrySchema);
    this.bus = options.bus;
    this.logger = options.logger.child({ component: 'outbox' });
    this.models = new Map(options.models.map((model) => [model.modelName, model]));
    this.sweepIntervalMs = options.sweepIntervalMs ?? 2_000;
    this.graceMs = options.graceMs ?? 2_000;
    this.abandonAfterMs = options.abandonAfterMs ?? 10 * 60_000;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.sweep().catch(() => undefined), this.sweepIntervalMs);
    this.timer.unref();
    void this.sweep().catch(() => undefined);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.sweep();
  }

  async write<T>(
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    model: Model<any>,
    id: unknown,
    events: EventEnvelope[],
    write: (mark: OutboxMark) => Promise<T | null>,
  ): Promise<T | null> {
    const staged = await this.stage(model, id, events);
    let result: T | null;
    try {
      result = await write(staged.mark);
    } catch (err) {
      await this.drop(staged);
      throw err;
    }
    if (result === null) await this.drop(staged);
    else await this.commit(staged);
    return result;
  }

  /** Step 1: the events go into the outbox, unconfirmed. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async stage(model: Model<any>, id: unknown, events: EventEnvelope[]): Promise<StagedEvents> {
    if (!this.models.has(model.modelName)) throw new Error(`${model.modelName} is not an outbox model`);
    const rev = randomUUID();
    const stagedAt = new Date();
    const trace = captureTraceContext();
    await this.Entry.insertMany(
      events.map((event, position) => ({
        _id: event.id,
        event: JSON.stringify(event),
        model: model.modelName,
        docId: id,
        rev,
        committed: false,
        stagedAt,
        position,
        ...(trace ? { trace: JSON.stringify(trace) } : {}),
      })),
    );
    return { rev, mark: { _outboxRev: rev }, ids: events.map((e) => e.id) };
  }

  /**
   * Step 3: the write landed, so its events are confirmed and published. A broker failure here is
   * not the caller's failure: the events are durable and the sweep retries them.
   */
  async commit(staged: StagedEvents): Promise<void> {
    for (const id of staged.ids) await this.Entry.updateOne({ _id: id }, { $set: { committed: true } });
    outsideTraces(() => this.drain()).catch(() => undefined);
  }

  /** The write changed nothing: its events must never be published. */
  async drop(staged: StagedEvents): Promise<void> {
    for (const id of staged.ids) await this.Entry.deleteOne({ _id: id });
  }

  /**
   * Publishes the confirmed entries, oldest first, then deletes them. Calls that arrive while one
   * is waiting its turn share it, so a burst of commits costs one pass, not one each.
   */
  drain(): Promise<number> {
    this.drainQueued ??= this.enqueue(async () => {
      this.drainQueued = undefined;
      return this.publishCommitted();
    });
    return this.drainQueued;
  }

  /** Confirms what a crashed writer left (see the class comment), then drains. */
  async sweep(now = new Date()): Promise<number> {
    await this.enqueue(() => this.resolveUnconfirmed(now));
    return this.drain();
  }

  private async publishCommitted(): Promise<number> {
    const entries = await this.Entry.find({ committed: true })
      .sort({ stagedAt: 1, position: 1 })
      .limit(BATCH)
      .lean<OutboxEntry[]>();
    if (entries.length === 0) return 0;
    const spans = relaySpans(entries.map((entry) => parseTraceCarrier(entry.trace)));
    try {
      await this.bus.publish(
        entries.map((entry, i) => {
          const event = JSON.parse(entry.event) as EventEnvelope;
          const definition = eventDefinition(event.type);
          if (!definition) throw new Error(`Unknown event type ${event.type}`);
          return { topic: definition.topic, event, trace: spans.carrier(i) };
        }),
      );
      spans.end();
    } catch (err) {
      spans.end(err);
      throw err;
    }
    for (const entry of entries) await this.Entry.deleteOne({ _id: entry._id });
    return entries.length;
  }

  private async resolveUnconfirmed(now: Date): Promise<void> {
    const entries = await this.Entry.find({ committed: false })
      .sort({ stagedAt: 1, position: 1 })
      .limit(BATCH)
      .lean<OutboxEntry[]>();
    for (const entry of entries) {
      const age = now.getTime() - entry.stagedAt.getTime();
      if (age < this.graceMs) continue;
      const model = this.models.get(entry.model);
      const doc = model
        ? await model.findById(entry.docId).select('_outboxRev').lean<{ _outboxRev?: string }>()
        : null;
      if (doc?._outboxRev === entry.rev) {
        await this.Entry.updateOne({ _id: entry._id }, { $set: { committed: true } });
      } else if (age >= this.abandonAfterMs) {
        this.logger.warn(
          { eventId: entry._id, model: entry.model, docId: entry.docId },
          'dropping an outbox event whose write never reached its document',
        );
        await this.Entry.deleteOne({ _id: entry._id });
      }
    }
  }

  // Relay work is serialised, so two passes never publish the same entries at once.
  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch((err: unknown) =>
      this.logger.error({ err }, 'outbox relay failed; the sweep will retry'),
    );
    return run;
  }
}
