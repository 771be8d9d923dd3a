import { z } from 'zod';
import { decodeCursor, encodeCursor, errors, pageOf, type Page } from '@trellis/shared';
import { bucketOf, INBOX_BUCKET, type Notification, type NotificationModel } from './notification.model.ts';
import type { UnreadCounts } from './unread-counts.ts';
import { notificationView } from './notifications.views.ts';

/** A page's last position: (seq, createdAt, id), newest first (createdAt and id settle equal seqs). */
const cursorSchema = z.object({ seq: z.number().int().min(0), createdAt: z.iso.datetime(), id: z.string() });
type Position = z.infer<typeof cursorSchema>;

/** Buckets one page reads at most; past them the page ends short, with a cursor to go on. */
const MAX_BUCKETS_PER_PAGE = 64;

export interface InboxQuery {
  unread?: boolean | undefined;
  orgId?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface InboxDeps {
  model: NotificationModel;
  counts: UnreadCounts;
  /** The newest seq on the user's `user:<id>` channel (every notification has one there). */
  lastSeq: (userId: string) => Promise<number>;
  /** Default `MAX_BUCKETS_PER_PAGE` (tests lower it). */
  maxBucketsPerPage?: number;
}

/** Newest first: by seq, then (should two share one) by creation and id. */
const newer = (a: Notification, b: Notification) =>
  b.seq - a.seq ||
  b.createdAt.getTime() - a.createdAt.getTime() ||
  (a._id < b._id ? 1 : a._id > b._id ? -1 : 0);

const before = (n: Notification, at: Position) =>
  n.seq < at.seq ||
  (n.seq === at.seq &&
    (n.createdAt.getTime() < Date.parse(at.createdAt) ||
      (n.createdAt.getTime() === Date.parse(at.createdAt) && n._id < at.id)));

/** A user's inbox (api.md §6): only ever their own notifications. */
export class InboxService {
  private readonly model: NotificationModel;
  private readonly counts: UnreadCounts;
  private readonly lastSeq: (userId: string) => Promise<number>;
  private readonly maxBuckets: number;

  constructor(deps: InboxDeps) {
    this.model = deps.model;
    this.counts = deps.counts;
    this.lastSeq = deps.lastSeq;
    this.maxBuckets = deps.maxBucketsPerPage ?? MAX_BUCKETS_PER_PAGE;
  }

  /**
   * Newest first, keyset pages on (seq, createdAt, id), read a bucket at a time from the newest
   * (see `INBOX_BUCKET`): a page costs the buckets it spans, not the user's whole inbox. A filter
   * that matches little may leave a page short after `MAX_BUCKETS_PER_PAGE` buckets; its cursor
   * goes on from there.
   */
  async list(userId: string, query: InboxQuery): Promise<Page<ReturnType<typeof notificationView>>> {
    const at = query.cursor ? decodeCursor(query.cursor, cursorSchema) : undefined;
    const filter: Record<string, unknown> = {};
    if (query.unread) filter.read = false;
    if (query.orgId) filter.orgId = query.orgId;
    // A short page's cursor (no id) points below the buckets it read.
    const top = at ? (at.id === '' ? at.seq - 1 : at.seq) : await this.lastSeq(userId);
    const rows: Notification[] = [];
    let bucket = Math.floor(top / INBOX_BUCKET);
    for (let read = 0; bucket >= 0 && rows.length <= query.limit; bucket -= 1, read += 1) {
      if (read === this.maxBuckets) {
        // The page ends short; the next one starts below the buckets read (createdAt: none before).
        const position = { seq: (bucket + 1) * INBOX_BUCKET, createdAt: new Date(0).toISOString(), id: '' };
        return { items: rows.map(notificationView), nextCursor: encodeCursor(position) };
      }
      const found = await this.model
        .find({ bucket: bucketOf(userId, bucket * INBOX_BUCKET), ...filter })
        .lean<Notification[]>();
      rows.push(...found.filter((n) => n.userId === userId && (!at || before(n, at))).sort(newer));
    }
    return pageOf(rows, query.limit, notificationView, (n) => ({
      seq: n.seq,
      createdAt: n.createdAt.toISOString(),
      id: n._id,
    }));
  }

  async unreadCount(userId: string): Promise<{ count: number }> {
    return { count: await this.counts.count(userId) };
  }

  /** Marks one notification read (the first readAt stays); another user's answers 404. */
  async markRead(userId: string, id: string) {
    const marked = await this.model.updateOne(
      { _id: id, userId, read: false },
      { $set: { read: true, readAt: new Date() } },
    );
    await this.counts.change(userId, -marked.modifiedCount);
    const found = await this.model.findOne({ _id: id, userId }).lean<Notification>();
    if (!found) throw errors.notFound('notification');
    return notificationView(found);
  }

  async markAllRead(userId: string, orgId?: string): Promise<{ updated: number }> {
    const filter: Record<string, unknown> = { userId, read: false };
    if (orgId) filter.orgId = orgId;
    const result = await this.model.updateMany(filter, { $set: { read: true, readAt: new Date() } });
    await this.counts.change(userId, -result.modifiedCount);
    return { updated: result.modifiedCount };
  }
}
