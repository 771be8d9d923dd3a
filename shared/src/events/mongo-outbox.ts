import { Schema, type Document, type Model } from 'mongoose';
import type { Logger } from 'pino';
import type { EventEnvelope } from './envelope.ts';
import type { EventBus } from './kafka.ts';
import { eventDefinition } from './registry.ts';

/**
 * The MongoDB outbox keeps a document's unpublished events inside the document itself, so the
 * change and its events are written by one single-document (atomic) write — no multi-document
 * transaction, which FerretDB v1 lacks. Events sit in a map keyed by event id, so the relay
 * removes exactly what it published with `$unset` (FerretDB v1 has no conditional `$pull`).
 */
export function outboxPlugin(schema: Schema): void {
  schema.add({
    _outbox: { type: Schema.Types.Mixed, default: undefined },
    _outboxPending: { type: Boolean, index: true },
  });
  const hide = (_doc: unknown, ret: Record<string, unknown>) => {
    delete ret._outbox;
    delete ret._outboxPending;
    return ret;
  };
  schema.set('toJSON', { ...(schema.get('toJSON') ?? {}), transform: hide });
  schema.set('toObject', { ...(schema.get('toObject') ?? {}), transform: hide });
}

/** Adds events to a document about to be saved (same write as the change). */
export function stageEvents(doc: Document, events: EventEnvelope[]): void {
  const pending = (doc.get('_outbox') as Record<string, EventEnvelope> | undefined) ?? {};
  doc.set('_outbox', { ...pending, ...Object.fromEntries(events.map((e) => [e.id, e])) });
  doc.set('_outboxPending', true);
}

/**
 * The `$set` members that stage events within the `updateOne`/`findOneAndUpdate` of the change;
 * spread them into that update's own `$set`.
 */
export function outboxSet(events: EventEnvelope[]): Record<string, unknown> {
  return { ...Object.fromEntries(events.map((e) => [`_outbox.${e.id}`, e])), _outboxPending: true };
}

export interface MongoOutboxOptions {
  bus: EventBus;
  logger: Logger;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any model using outboxPlugin
  models: Array<Model<any>>;
  sweepIntervalMs?: number;
}

interface PendingDoc {
  _id: unknown;
  _outbox?: Record<string, EventEnvelope>;
}

/**
 * Relay for `outboxPlugin` documents: `flush(model, id)` right after a write publishes at once; a
 * periodic sweep publishes whatever a crashed process left. At-least-once, like the PostgreSQL
 * relay; consumers deduplicate by event id.
 */
export class MongoOutbox {
  private readonly bus: EventBus;
  private readonly logger: Logger;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private readonly models: Array<Model<any>>;
  private readonly sweepIntervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: MongoOutboxOptions) {
    this.bus = options.bus;
    this.logger = options.logger.child({ component: 'outbox' });
    this.models = options.models;
    this.sweepIntervalMs = options.sweepIntervalMs ?? 2_000;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.enqueue(() => this.sweep()), this.sweepIntervalMs);
    this.timer.unref();
    void this.enqueue(() => this.sweep());
  }

  /** Publishes the pending events of one document; call it after the write that staged them. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  flush(model: Model<any>, id: unknown): Promise<number> {
    return this.enqueue(() => this.publishDocument(model, id));
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.enqueue(() => this.sweep());
  }

  /** Publishes every pending event of every model now. */
  async sweep(): Promise<number> {
    let total = 0;
    for (const model of this.models) {
      const pending = await model
        .find({ _outboxPending: true })
        .select('_id')
        .limit(500)
        .lean<PendingDoc[]>();
      for (const doc of pending) total += await this.publishDocument(model, doc._id);
    }
    return total;
  }

  // Relay work is serialised, so a flush and a sweep never publish the same document at once.
  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch((err: unknown) =>
      this.logger.error({ err }, 'outbox relay failed; the sweep will retry'),
    );
    return run;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private async publishDocument(model: Model<any>, id: unknown): Promise<number> {
    const doc = await model.findById(id).select('_outbox').lean<PendingDoc>();
    const events = Object.values(doc?._outbox ?? {});
    if (events.length > 0) {
      await this.bus.publish(
        events.map((event) => {
          const definition = eventDefinition(event.type);
          if (!definition) throw new Error(`Unknown event type ${event.type}`);
          return { topic: definition.topic, event };
        }),
      );
      await model.updateOne(
        { _id: id },
        { $unset: Object.fromEntries(events.map((e) => [`_outbox.${e.id}`, 1])) },
      );
    }
    // Events staged by a concurrent write between our read and the unset stay, and keep the flag.
    await model.updateOne({ _id: id, _outbox: {} }, { $unset: { _outbox: 1, _outboxPending: 1 } });
    return events.length;
  }
}
