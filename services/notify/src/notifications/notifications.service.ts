import { z } from 'zod';
import { decodeCursor, errors, pageOf, type Page } from '@trellis/shared';
import type { Notification, NotificationModel } from './notification.model.ts';
import { notificationView } from './notifications.views.ts';

const cursorSchema = z.object({ createdAt: z.iso.datetime(), id: z.string().min(1) });

export interface InboxQuery {
  unread?: boolean | undefined;
  orgId?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

/** A user's inbox (api.md §6): only ever their own notifications. */
export class InboxService {
  private readonly model: NotificationModel;

  constructor(model: NotificationModel) {
    this.model = model;
  }

  /** Newest first, keyset pages on (createdAt, id). */
  async list(userId: string, query: InboxQuery): Promise<Page<ReturnType<typeof notificationView>>> {
    const filter: Record<string, unknown> = { userId };
    if (query.unread) filter.read = false;
    if (query.orgId) filter.orgId = query.orgId;
    if (query.cursor) {
      const after = decodeCursor(query.cursor, cursorSchema);
      const at = new Date(after.createdAt);
      filter.$or = [{ createdAt: { $lt: at } }, { createdAt: at, _id: { $lt: after.id } }];
    }
    const rows = await this.model
      .find(filter)
      .sort({ createdAt: -1, _id: -1 })
      .limit(query.limit + 1)
      .lean<Notification[]>();
    return pageOf(rows, query.limit, notificationView, (n) => ({
      createdAt: n.createdAt.toISOString(),
      id: n._id,
    }));
  }

  async unreadCount(userId: string): Promise<{ count: number }> {
    return { count: await this.model.countDocuments({ userId, read: false }) };
  }

  /** Marks one notification read (the first readAt stays); another user's answers 404. */
  async markRead(userId: string, id: string) {
    await this.model.updateOne(
      { _id: id, userId, read: false },
      { $set: { read: true, readAt: new Date() } },
    );
    const found = await this.model.findOne({ _id: id, userId }).lean<Notification>();
    if (!found) throw errors.notFound('notification');
    return notificationView(found);
  }

  async markAllRead(userId: string, orgId?: string): Promise<{ updated: number }> {
    const filter: Record<string, unknown> = { userId, read: false };
    if (orgId) filter.orgId = orgId;
    const result = await this.model.updateMany(filter, { $set: { read: true, readAt: new Date() } });
    return { updated: result.modifiedCount };
  }
}
