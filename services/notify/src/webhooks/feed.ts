import type { Model } from 'mongoose';
import { refusedDocuments } from '@trellis/shared';
import type { FeedEntry, FeedHead } from './webhook.model.ts';
import { eventScope, matchesEvent, type PublicEvent } from './webhook.rules.ts';

/** Entries per block: a page reads whole blocks by an equality FerretDB answers from an index. */
export const FEED_BLOCK = 100;

const blockOf = (orgId: string, seq: number) => `${orgId}:${Math.floor(seq / FEED_BLOCK)}`;

/** How long an append can take at most: a gap before an entry older than this is for good. */
const SETTLED_MS = 60_000;

/** Events appended in one insert at most. */
const MAX_BATCH = 200;

interface Waiter {
  event: PublicEvent;
  resolve: (entry: FeedEntry) => void;
  reject: (err: unknown) => void;
}

/**
 * An org's events in one order (`seq` 1, 2, 3 … without gaps), the order the feed pages in and the
 * webhooks deliver in. A seq is taken by inserting it under the unique (orgId, seq) index, so two
 * replicas never give one twice; a loser probes the next. A process writes one org's events in
 * batches, one batch at a time, so it never collides with itself; `FeedHead` is only where probing
 * starts after a restart.
 */
export class EventFeed {
  private readonly feed: Model<FeedEntry>;
  private readonly heads: Model<FeedHead>;
  private readonly headWrites = new Map<string, number>();
  private readonly last = new Map<string, number>();
  /** Per org: events waiting for their seq, and whether a batch is being written. */
  private readonly queues = new Map<string, { waiting: Waiter[]; writing: boolean }>();

  constructor(models: { Feed: Model<FeedEntry>; FeedHead: Model<FeedHead> }) {
    this.feed = models.Feed;
    this.heads = models.FeedHead;
  }

  /**
   * The event's entry: appended now, or the one a previous delivery of the event appended. An org's
   * events queue here and go in one ordered insert per batch, in the order they were handed over.
   */
  append(event: PublicEvent): Promise<FeedEntry> {
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(event.orgId) ?? { waiting: [], writing: false };
      this.queues.set(event.orgId, queue);
      queue.waiting.push({ event, resolve, reject });
      if (!queue.writing) void this.drain(event.orgId, queue);
    });
  }

  private async drain(orgId: string, queue: { waiting: Waiter[]; writing: boolean }): Promise<void> {
    queue.writing = true;
    try {
      while (queue.waiting.length > 0) {
        const batch = queue.waiting.splice(0, MAX_BATCH);
        try {
          await this.write(orgId, batch);
        } catch (err) {
          // Everything queued behind fails too: retried, they come back in the order they were
          // asked for, instead of later events taking seqs before earlier ones.
          for (const waiter of [...batch, ...queue.waiting.splice(0)]) waiter.reject(err);
        }
      }
    } finally {
      queue.writing = false;
      this.queues.delete(orgId);
    }
  }

  /** One ordered insert of consecutive seqs; on a collision, what went in is done and the rest goes again. */
  private async write(orgId: string, batch: Waiter[]): Promise<void> {
    let pending = batch;
    let next = (this.last.get(orgId) ?? (await this.heads.findById(orgId).lean())?.seq ?? 0) + 1;
    while (pending.length > 0) {
      const now = new Date();
      const entries = pending.map(({ event }, i): FeedEntry => {
        const { projectId, channelId } = eventScope(event);
        const seq = next + i;
        return {
          _id: event.id,
          orgId,
          seq,
          block: blockOf(orgId, seq),
          type: event.type,
          body: JSON.stringify(event),
          projectId,
          channelId,
          recordedAt: now,
        };
      });
      let inserted = entries.length;
      let refused: unknown;
      try {
        await this.feed.insertMany(entries, { ordered: true });
      } catch (err) {
        const first = refusedDocuments(err)?.[0];
        if (!first?.duplicate) throw err;
        inserted = first.index;
        refused = err;
      }
      pending.slice(0, inserted).forEach((waiter, i) => waiter.resolve(entries[i] as FeedEntry));
      if (inserted > 0) {
        this.last.set(orgId, next + inserted - 1);
        this.moveHead(orgId, next + inserted - 1);
      }
      if (!refused) return;
      // The refused one: already in the feed (a redelivered event), or its seq was taken by another replica.
      const waiter = pending[inserted] as Waiter;
      const existing = await this.feed.findById(waiter.event.id).lean<FeedEntry>();
      if (existing) {
        waiter.resolve(existing);
        pending = pending.slice(inserted + 1);
        next += inserted;
      } else {
        pending = pending.slice(inserted);
        next += inserted + 1;
      }
    }
  }

  /** The head hint moves on in the background, at most one write per org at a time. */
  private moveHead(orgId: string, seq: number): void {
    if (this.headWrites.has(orgId)) {
      this.headWrites.set(orgId, Math.max(this.headWrites.get(orgId) ?? 0, seq));
      return;
    }
    this.headWrites.set(orgId, seq);
    const write = async () => {
      for (;;) {
        const target = this.headWrites.get(orgId) ?? seq;
        await this.heads
          .updateOne({ _id: orgId }, { $max: { seq: target } }, { upsert: true })
          .catch(() => undefined);
        if ((this.headWrites.get(orgId) ?? target) <= target) break;
      }
      this.headWrites.delete(orgId);
    };
    void write();
  }

  /**
   * Entries after `after`, oldest first, that pass `types` and `visible`: up to `limit`, reading at
   * most `maxBlocks` blocks. `position` is the seq to continue after (the last one read, shown or
   * not); `more` whether entries past it were already there.
   */
  async page(query: {
    orgId: string;
    after: number;
    types: string[] | null;
    limit: number;
    visible: (entry: FeedEntry) => Promise<boolean>;
    maxBlocks?: number;
  }): Promise<{ items: PublicEvent[]; position: number; more: boolean }> {
    const items: PublicEvent[] = [];
    let position = query.after;
    const maxBlocks = query.maxBlocks ?? 10;
    for (let read = 0; read < maxBlocks; read += 1) {
      const block = Math.floor((position + 1) / FEED_BLOCK);
      const rows = (await this.feed.find({ block: `${query.orgId}:${block}` }).lean<FeedEntry[]>())
        .filter((row) => row.seq > position)
        .sort((a, b) => a.seq - b.seq);
      if (rows.length === 0) {
        // A cursor older than the retention window: carry on from the oldest entry kept.
        const oldest = await this.oldestSeqAfter(query.orgId, position);
        if (oldest === null) return { items, position, more: false };
        position = oldest - 1;
        continue;
      }
      for (const row of rows) {
        // A seq missing before an entry written a minute ago is not still being written: the
        // retention sweep took it (partly emptied blocks). Missing before a newer one, it may be.
        if (row.seq !== position + 1 && row.recordedAt.getTime() > Date.now() - SETTLED_MS)
          return { items, position, more: false };
        position = row.seq;
        if ((query.types === null || matchesEvent(query.types, row.type)) && (await query.visible(row)))
          items.push(JSON.parse(row.body) as PublicEvent);
        if (items.length >= query.limit) return { items, position, more: true };
      }
    }
    return { items, position, more: true };
  }

  /** The first seq kept past `position`, when there is a gap left by the retention sweep. */
  private async oldestSeqAfter(orgId: string, position: number): Promise<number | null> {
    const head = (await this.heads.findById(orgId).lean())?.seq ?? 0;
    if (head <= position) return null;
    const oldest = await this.feed.findOne({ orgId }).sort({ seq: 1 }).lean<FeedEntry>();
    return oldest && oldest.seq > position + 1 ? oldest.seq : null;
  }

  /** Drops entries older than the retention window (api.md §10: 30 days by default). */
  async expire(before: Date): Promise<number> {
    const { deletedCount } = await this.feed.deleteMany({ recordedAt: { $lt: before } });
    return deletedCount;
  }
}
