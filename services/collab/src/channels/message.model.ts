import { randomUUID } from 'node:crypto';
import { Schema, type Connection, type Model } from 'mongoose';
import { outboxPlugin } from '@trellis/shared';
import { CHANNEL_SCOPES, type ChannelScope } from './channel.model.ts';

/** A chat message; a deleted one stays as a placeholder (body and mentions removed). */
export interface MessageDoc {
  _id: string;
  channelId: string;
  orgId: string;
  scope: ChannelScope;
  scopeId: string;
  authorId: string;
  body: string;
  mentions: string[];
  createdAt: Date;
  editedAt: Date | null;
  deleted: boolean;
  deletedAt: Date | null;
  /** Bumped by every edit and the deletion; the ETag and If-Match (api.md §1). */
  version: number;
}

const required = { type: String, required: true };

const messageSchema = new Schema<MessageDoc>(
  {
    _id: { type: String, default: () => randomUUID() },
    channelId: required,
    orgId: required,
    scope: { type: String, required: true, enum: CHANNEL_SCOPES },
    scopeId: required,
    authorId: required,
    body: { type: String, default: '' },
    mentions: { type: [String], default: [] },
    createdAt: { type: Date, required: true },
    editedAt: { type: Date, default: null },
    deleted: { type: Boolean, default: false },
    deletedAt: { type: Date, default: null },
    version: { type: Number, required: true, default: 1 },
  },
  { collection: 'messages', versionKey: false },
);
// A channel's history, newest first, keyset-paginated on (createdAt, _id) descending.
messageSchema.index({ channelId: 1, createdAt: -1, _id: -1 });
outboxPlugin(messageSchema);

export type MessageModel = Model<MessageDoc>;

export function messageModel(connection: Connection): MessageModel {
  return (
    (connection.models.Message as MessageModel | undefined) ?? connection.model('Message', messageSchema)
  );
}
