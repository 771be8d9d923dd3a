import { randomUUID } from 'node:crypto';
import { Schema, type Connection, type Model } from 'mongoose';
import { outboxPlugin } from '@trellis/shared';

export interface AnnouncementDoc {
  _id: string;
  orgId: string;
  authorId: string;
  title: string;
  body: string;
  pinned: boolean;
  createdAt: Date;
  updatedAt: Date;
  /** Bumped by every change; the ETag and If-Match (api.md §1). */
  version: number;
  deleted: boolean;
  deletedAt: Date | null;
  deletedBy: string | null;
}

/** Who has read an announcement, and when first. */
export interface AnnouncementReadDoc {
  _id: string;
  announcementId: string;
  orgId: string;
  userId: string;
  readAt: Date;
}

const required = { type: String, required: true };

const announcementSchema = new Schema<AnnouncementDoc>(
  {
    _id: { type: String, default: () => randomUUID() },
    orgId: required,
    authorId: required,
    title: required,
    body: required,
    pinned: { type: Boolean, default: false },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
    version: { type: Number, required: true, default: 1 },
    deleted: { type: Boolean, default: false },
    deletedAt: { type: Date, default: null },
    deletedBy: { type: String, default: null },
  },
  { collection: 'announcements', versionKey: false },
);
// An org's board: pinned first, then newest, keyset-paginated on (pinned, createdAt, _id) descending.
announcementSchema.index({ orgId: 1, deleted: 1, pinned: -1, createdAt: -1, _id: -1 });
outboxPlugin(announcementSchema);

const readSchema = new Schema<AnnouncementReadDoc>(
  {
    _id: { type: String, default: () => randomUUID() },
    announcementId: required,
    orgId: required,
    userId: required,
    readAt: { type: Date, required: true },
  },
  { collection: 'announcement_reads', versionKey: false },
);
// One receipt per reader: marking as read again keeps the first readAt.
readSchema.index({ announcementId: 1, userId: 1 }, { unique: true });

export type AnnouncementModel = Model<AnnouncementDoc>;
export type AnnouncementReadModel = Model<AnnouncementReadDoc>;

export function announcementModel(connection: Connection): AnnouncementModel {
  return (
    (connection.models.Announcement as AnnouncementModel | undefined) ??
    connection.model('Announcement', announcementSchema)
  );
}

export function announcementReadModel(connection: Connection): AnnouncementReadModel {
  return (
    (connection.models.AnnouncementRead as AnnouncementReadModel | undefined) ??
    connection.model('AnnouncementRead', readSchema)
  );
}
