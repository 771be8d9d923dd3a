import { isDuplicateKeyError } from '@trellis/shared';
import type { RealtimeEvent } from './channels.ts';
import type { HistoryModels } from './history.model.ts';

export interface SequencedEvent {
  seq: number;
  event: RealtimeEvent;
}

/** Losing the race for a seq is normal under load; this many losses in a row is not. */
const MAX_APPEND_ATTEMPTS = 200;
/** Point reads in flight at once when replaying. */
const READ_PARALLEL = 20;

const entryId = (channel: string, seq: number) => `${channel}#${seq}`;

/**
 * Each channel's events under a gap-free `seq`, assigned once, in MongoDB, without transactions:
 * - the insert of `<channel>#<seq>` is the one atomic step: of two replicas racing for a seq, one
 *   insert wins and the other moves on to the next seq, so seqs are dense (no gaps);
 * - the unique (channel, eventId) index refuses a second seq for the same event (redeliveries,
 *   crashes), and the existing seq is returned;
 * - the channel's head (`realtime_channels`) only says where to start looking: it is bumped after
 *   the insert, and a head lagging behind (a crash in between) is probed past.
 * Every hot-path operation is an `_id` lookup or an insert (FerretDB v1 scans for anything else).
 */
export class ChannelHistory {
  private readonly m: HistoryModels;

  constructor(models: HistoryModels) {
    this.m = models;
  }

  /** The event's seq on the channel: the one it already has, or the next free one. */
  async append(channel: string, event: RealtimeEvent, at = new Date()): Promise<number> {
    let seq = (await this.headSeq(channel)) + 1;
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.m.entries.create({
          _id: entryId(channel, seq),
          channel,
          seq,
          eventId: event.id,
          event,
          at,
        });
        await this.advanceHead(channel, seq);
        return seq;
      } catch (err) {
        if (!isDuplicateKeyError(err) || attempt >= MAX_APPEND_ATTEMPTS) throw err;
        const taken = await this.m.entries.findById(entryId(channel, seq), { eventId: 1 }).lean();
        if (taken?.eventId === event.id) return seq;
        if (!taken) {
          // The seq is free, so the event itself is already on the channel (a redelivery).
          const existing = await this.m.entries.findOne({ channel, eventId: event.id }, { seq: 1 }).lean();
          if (existing) return existing.seq;
          continue; // freed meanwhile by retention: try the same seq again
        }
        seq += 1; // another event took it: the next one
      }
    }
  }

  /** The channel's newest seq; 0 when it has none. */
  async lastSeq(channel: string): Promise<number> {
    let seq = await this.headSeq(channel);
    // A head left behind by a crash between insert and bump: walk to the real end (and repair).
    while (await this.m.entries.exists({ _id: entryId(channel, seq + 1) })) seq += 1;
    await this.advanceHead(channel, seq);
    return seq;
  }

  /** The oldest seq still retained; undefined when the channel has none. */
  async oldestSeq(channel: string): Promise<number | undefined> {
    const head = await this.m.heads.findById(channel).lean();
    if (!head) return undefined;
    for (let seq = head.first; seq <= head.seq; seq += 1)
      if (await this.m.entries.exists({ _id: entryId(channel, seq) })) return seq;
    return undefined;
  }

  /** Events with `after < seq <= upTo`, in order; stops at the first one missing (retention). */
  async *range(channel: string, after: number, upTo: number): AsyncGenerator<SequencedEvent> {
    for (let from = after + 1; from <= upTo; from += READ_PARALLEL) {
      const seqs = Array.from({ length: Math.min(READ_PARALLEL, upTo - from + 1) }, (_, i) => from + i);
      const batch = await Promise.all(
        seqs.map((seq) => this.m.entries.findById(entryId(channel, seq), { seq: 1, event: 1 }).lean()),
      );
      for (const entry of batch) {
        if (!entry) return;
        yield { seq: entry.seq, event: entry.event };
      }
    }
  }

  /**
   * Retention (api.md §9: ≥ 24 h or the last `keepLast` per channel): deletes, oldest first, the
   * entries older than `maxAgeMs` that are not among their channel's newest `keepLast`. A channel's
   * newest entry always stays. Seqs grow with time on a channel, so each channel's walk stops at
   * the first entry young enough to keep. Returns how many were deleted.
   */
  async prune(options: { maxAgeMs: number; keepLast: number; now?: Date }): Promise<number> {
    const keepLast = Math.max(1, options.keepLast);
    const cutoff = new Date((options.now ?? new Date()).getTime() - options.maxAgeMs);
    let deleted = 0;
    for (const head of await this.m.heads.find({}).lean()) {
      const keepFrom = (await this.lastSeq(head._id)) - keepLast + 1;
      let first = head.first;
      for (; first < keepFrom; first += 1) {
        const entry = await this.m.entries.findById(entryId(head._id, first), { at: 1 }).lean();
        if (entry && entry.at >= cutoff) break;
        if (entry) deleted += (await this.m.entries.deleteOne({ _id: entry._id })).deletedCount;
      }
      if (first !== head.first) await this.m.heads.updateOne({ _id: head._id }, { $set: { first } });
    }
    return deleted;
  }

  private async headSeq(channel: string): Promise<number> {
    return (await this.m.heads.findById(channel, { seq: 1 }).lean())?.seq ?? 0;
  }

  /** Moves the head forward to `seq` (never back). */
  private async advanceHead(channel: string, seq: number): Promise<void> {
    const moved = await this.m.heads.updateOne({ _id: channel, seq: { $lt: seq } }, { $set: { seq } });
    if (moved.matchedCount > 0) return;
    try {
      await this.m.heads.create({ _id: channel, seq, first: 1 });
    } catch (err) {
      // It exists (at seq or beyond, or a racing creator): moving forward is someone else's job.
      if (!isDuplicateKeyError(err)) throw err;
    }
  }
}
