import type { Model } from 'mongoose';
import { isDuplicateKeyError } from '@trellis/shared';
import type { InboxCounter, NotificationModel } from './notification.model.ts';

/** How old a counter may be before a read recounts it (see `InboxCounter`). */
const RECOUNT_AFTER_MS = 60_000;

/**
 * Users' unread counts, read from one document each instead of counted (which on FerretDB v1 reads
 * every unread notification of the user). Changes made in one turn of the event loop go to the
 * store together, one `$inc` per user.
 */
export class UnreadCounts {
  private readonly counters: Model<InboxCounter>;
  private readonly notifications: NotificationModel;
  private pending = new Map<string, number>();
  private flushing: Promise<void> | undefined;
  /** Users whose counter is being recounted behind a read. */
  private readonly recounting = new Set<string>();

  constructor(counters: Model<InboxCounter>, notifications: NotificationModel) {
    this.counters = counters;
    this.notifications = notifications;
  }

  /** `by` notifications became unread (stored: +1) or read (-n) for the user. */
  change(userId: string, by: number): Promise<void> {
    if (by === 0) return Promise.resolve();
    this.pending.set(userId, (this.pending.get(userId) ?? 0) + by);
    this.flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flush());
    return this.flushing;
  }

  /**
   * The user's unread count. A user without a counter yet (or whose counter is older than a minute)
   * is counted, and the count kept — unless the counter changed meanwhile, which the next read
   * settles. No upsert on `change`: the first read's count includes what came before it.
   */
  async count(userId: string): Promise<number> {
    const counter = await this.counters.findById(userId).lean<InboxCounter>();
    if (counter && Date.now() - counter.countedAt.getTime() < RECOUNT_AFTER_MS)
      return Math.max(0, counter.unread);
    const unread = await this.notifications.countDocuments({ userId, read: false });
    const countedAt = new Date();
    if (counter)
      await this.counters.updateOne(
        { _id: userId, version: counter.version },
        { $set: { unread, countedAt } },
      );
    else
      await this.counters.create({ _id: userId, unread, version: 0, countedAt }).catch((err: unknown) => {
        if (!isDuplicateKeyError(err)) throw err; // another request counted first
      });
    return unread;
  }

  private async flush(): Promise<void> {
    const changes = [...this.pending];
    this.pending = new Map();
    this.flushing = undefined;
    await this.counters.bulkWrite(
      changes.map(([_id, by]) => ({
        updateOne: { filter: { _id }, update: { $inc: { unread: by, version: 1 } } },
      })),
      { ordered: false },
    );
  }
}
