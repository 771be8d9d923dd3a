import type { Model } from 'mongoose';
import { isDuplicateKeyError } from '@trellis/shared';
import type { FeedEntry, FeedHead } from './webhook.model.ts';
import { eventScope, matchesEvent, type PublicEvent } from './webhook.rules.ts';

/** Entries per block: a page reads whole blocks by an equality FerretDB answers from an index. */
export const FEED_BLOCK = 100;

const blockOf = (orgId: string, seq: number) => `${orgId}:${Math.floor(seq / FEED_BLOCK)}`;

/**
 * An org's events in one order (`seq` 1, 2, 3 … without gaps), the order the feed pages in and the
 * webhooks deliver in. A seq is taken by inserting it under the unique (orgId, seq) index, so two
 * replicas never give one twice; a loser probes the next. A process appends one org's events one
 * at a time, so it rarely collides with itself; `FeedHead` is only where probing starts.
 */
export class EventFeed {
  private readonly feed: Model<FeedEntry>;
  private readonly heads: Model<FeedHead>;
  private readonly last = new Map<string, number>();
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(models: { Feed: Model<FeedEntry>; FeedHead: Model<FeedHead> }) {
    this.feed = models.Feed;
    this.heads = models.FeedHead;
  }

  /** The event's entry: appended now, or the one a previous delivery of the event appended. */
  append(event: PublicEvent): Promise<FeedEntry> {
    const previous = this.queues.get(event.orgId) ?? Promise.resolve();
    const next = previous.then(
      () => this.appendNow(event),
      () => this.appendNow(event),
    );
    this.queues.set(event.orgId, next);
    void next
      .finally(() => {
        if (this.queues.get(event.orgId) === next) this.queues.delete(event.orgId);
      })
      .catch(() => undefined);
    return next;
  }

  private async appendNow(event: PublicEvent): Promise<FeedEntry> {
    const existing = await this.feed.findById(event.id).lean<FeedEntry>();
    if (existing) return existing;
    const { orgId } = event;
    let seq = (this.last.get(orgId) ?? (await this.heads.findById(orgId).lean())?.seq ?? 0) + 1;
    const { projectId, channelId } = eventScope(event);
    for (;;) {
      const entry: FeedEntry = {
        _id: event.id,
        orgId,
        seq,
        block: blockOf(orgId, seq),
        type: event.type,
        body: JSON.stringify(event),
        projectId,
        channelId,
        recordedAt: new Date(),
      };
      try {
        await this.feed.create(entry);
        this.last.set(orgId, seq);
        await this.heads
          .updateOne({ _id: orgId }, { $max: { seq } }, { upsert: true })
          .catch(() => undefined);
        return entry;
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err;
        // Either this event is in already (a redelivery racing another replica), or the seq is taken.
        const again = await this.feed.findById(event.id).lean<FeedEntry>();
        if (again) return again;
        seq += 1;
      }
    }
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
        if (row.seq !== position + 1) return { items, position, more: false };
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
