import type { Model } from 'mongoose';
import { isDuplicateKeyError, RecentMap } from '@trellis/shared';
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
  /**
   * Users this process recounted (or is recounting) in the last minute. Kept here, not only in the
   * counter's `countedAt`: on FerretDB a concurrent `$inc` can write back the `countedAt` it read, and
   * a busy inbox was then recounted back to back.
   */
  private readonly recounted = new RecentMap<true>({ ttlMs: RECOUNT_AFTER_MS, maxEntries: 10_000 });

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
   * The user's unread count. A user without a counter yet is counted, and the count kept (no upsert
   * on `change`: the first read's count includes what came before it). A counter older than a
   * minute is recounted behind the read — a recount reads every unread notification of the user on
   * FerretDB v1, seconds at tens of thousands — and the count kept unless the counter changed
   * meanwhile; the read answers at once.
   */
  async count(userId: string): Promise<number> {
    const counter = await this.counters.findById(userId).lean<InboxCounter>();
    if (!counter) {
      const unread = await this.notifications.countDocuments({ userId, read: false });
      await this.counters
        .create({ _id: userId, unread, version: 0, countedAt: new Date() })
        .catch((err: unknown) => {
          if (!isDuplicateKeyError(err)) throw err; // another request counted first
        });
      return unread;
    }
    if (Date.now() - counter.countedAt.getTime() >= RECOUNT_AFTER_MS && !this.recounted.get(userId)) {
      this.recounted.set(userId, true);
      void this.recount(counter);
    }
    return Math.max(0, counter.unread);
  }

  private async recount(counter: InboxCounter): Promise<void> {
    try {
      const unread = await this.notifications.countDocuments({ userId: counter._id, read: false });
      const countedAt = new Date();
      const kept = await this.counters.updateOne(
        { _id: counter._id, version: counter.version },
        { $set: { unread, countedAt } },
      );
      // Changed meanwhile (a busy inbox): the counter stands until the next recount.
      if (kept.modifiedCount === 0)
        await this.counters.updateOne({ _id: counter._id }, { $set: { countedAt } });
    } catch {
      // A read after the minute tries again.
    }
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
