import { randomUUID } from 'node:crypto';
import { Schema, type Connection, type Model } from 'mongoose';
import { outboxPlugin } from '@trellis/shared';

/** A comment on a task; a deleted one stays as a placeholder (body and mentions removed). */
export interface CommentDoc {
  _id: string;
  orgId: string;
  projectId: string;
  taskId: string;
  authorId: string;
  body: string;
  mentions: string[];
  createdAt: Date;
  editedAt: Date | null;
  deleted: boolean;
  deletedAt: Date | null;
  deletedBy: string | null;
  /** Bumped by every edit and the deletion; the ETag and If-Match (api.md §1). */
  version: number;
}

const required = { type: String, required: true };

const commentSchema = new Schema<CommentDoc>(
  {
    _id: { type: String, default: () => randomUUID() },
    orgId: required,
    projectId: required,
    taskId: required,
    authorId: required,
    // Empty once deleted, so not `required` (mongoose rejects '' for required strings).
    body: { type: String, default: '' },
    mentions: { type: [String], default: [] },
    createdAt: { type: Date, required: true },
    editedAt: { type: Date, default: null },
    deleted: { type: Boolean, default: false },
    deletedAt: { type: Date, default: null },
    deletedBy: { type: String, default: null },
    version: { type: Number, required: true, default: 1 },
  },
  { collection: 'comments', versionKey: false },
);
// A task's thread, oldest first, keyset-paginated on (createdAt, _id).
commentSchema.index({ taskId: 1, createdAt: 1, _id: 1 });
outboxPlugin(commentSchema);

export type CommentModel = Model<CommentDoc>;

export function commentModel(connection: Connection): CommentModel {
  return (
    (connection.models.Comment as CommentModel | undefined) ?? connection.model('Comment', commentSchema)
  );
}
