import { isDuplicateKeyError } from '@trellis/shared';
import type { RealtimeEvent } from './channels.ts';
import type { HistoryModel } from './history.model.ts';

export interface SequencedEvent {
  seq: number;
  event: RealtimeEvent;
}

/** Losing the race for a seq is normal under load; this many losses in a row is not. */
const MAX_APPEND_ATTEMPTS = 200;
const READ_BATCH = 500;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Each channel's events under a gap-free `seq`, assigned once, in MongoDB. Without transactions
 * the two unique indexes do the work: (channel, seq) lets exactly one writer take the next seq,
 * (channel, eventId) makes a repeated append of the same event find the seq it already has —
 * across replicas, redeliveries and crashes.
 */
export class ChannelHistory {
  private readonly model: HistoryModel;

  constructor(model: HistoryModel) {
    this.model = model;
  }

  /** The event's seq on the channel: the one it already has, or the next free one. */
  async append(channel: string, event: RealtimeEvent, at = new Date()): Promise<number> {
    for (let attempt = 1; ; attempt += 1) {
      const existing = await this.model.findOne({ channel, eventId: event.id }, { seq: 1 }).lean();
      if (existing) return existing.seq;
      const seq = (await this.lastSeq(channel)) + 1;
      try {
        await this.model.create({ channel, seq, eventId: event.id, event, at });
        return seq;
      } catch (err) {
        // Someone took this seq (another event — then try the next one) or appended this very
        // event first (the next round finds it).
        if (!isDuplicateKeyError(err) || attempt >= MAX_APPEND_ATTEMPTS) throw err;
        // A little jitter once contention is obvious, so racing writers spread out.
        if (attempt > 3) await sleep(Math.random() * Math.min(attempt, 20));
      }
    }
  }

  /** The channel's newest seq; 0 when it has none. */
  async lastSeq(channel: string): Promise<number> {
    const newest = await this.model.findOne({ channel }, { seq: 1 }).sort({ seq: -1 }).lean();
    return newest?.seq ?? 0;
  }

  /** The oldest seq still retained; undefined when the channel has none. */
  async oldestSeq(channel: string): Promise<number | undefined> {
    const oldest = await this.model.findOne({ channel }, { seq: 1 }).sort({ seq: 1 }).lean();
    return oldest?.seq;
  }

  /** Events with `after < seq <= upTo`, in order, read in batches. */
  async *range(channel: string, after: number, upTo: number): AsyncGenerator<SequencedEvent> {
    let from = after;
    while (from < upTo) {
      const batch = await this.model
        .find({ channel, seq: { $gt: from, $lte: upTo } }, { seq: 1, event: 1 })
        .sort({ seq: 1 })
        .limit(READ_BATCH)
        .lean();
      for (const entry of batch) yield { seq: entry.seq, event: entry.event };
      const last = batch.at(-1);
      if (!last || batch.length < READ_BATCH) return;
      from = last.seq;
    }
  }

  /**
   * Retention (api.md §9: ≥ 24 h or the last `keepLast` per channel): deletes entries older than
   * `maxAgeMs` that are not among their channel's newest `keepLast`. A channel's newest entry always
   * stays, because the next seq is counted from it. Returns how many were deleted.
   */
  async prune(options: { maxAgeMs: number; keepLast: number; now?: Date }): Promise<number> {
    const keepLast = Math.max(1, options.keepLast);
    const cutoff = new Date((options.now ?? new Date()).getTime() - options.maxAgeMs);
    const channels = (await this.model.distinct('channel', { at: { $lt: cutoff } })) as string[];
    let deleted = 0;
    for (const channel of channels) {
      const keepFrom = (await this.lastSeq(channel)) - keepLast + 1;
      const result = await this.model.deleteMany({ channel, at: { $lt: cutoff }, seq: { $lt: keepFrom } });
      deleted += result.deletedCount;
    }
    return deleted;
  }
}
