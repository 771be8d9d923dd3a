import { randomUUID } from 'node:crypto';
import { Schema, type Connection, type Model } from 'mongoose';
import { outboxPlugin } from '@trellis/shared';

export const CHANNEL_SCOPES = ['org', 'team', 'project'] as const;
export type ChannelScope = (typeof CHANNEL_SCOPES)[number];

/** A chat channel: one per org (`general`), team and project, created from their events. */
export interface ChannelDoc {
  _id: string;
  orgId: string;
  scope: ChannelScope;
  /** The org, team or project id. */
  scopeId: string;
  name: string;
  /** List order: the org channel, then teams, then projects (0, 1, 2). */
  rank: number;
  /** Its team or project was deleted: hidden from lists and lookups. */
  archived: boolean;
  createdAt: Date;
}

const required = { type: String, required: true };

const channelSchema = new Schema<ChannelDoc>(
  {
    _id: { type: String, default: () => randomUUID() },
    orgId: required,
    scope: { type: String, required: true, enum: CHANNEL_SCOPES },
    scopeId: required,
    name: required,
    rank: { type: Number, required: true },
    archived: { type: Boolean, default: false },
    createdAt: { type: Date, required: true },
  },
  { collection: 'channels', versionKey: false },
);
// One channel per scope: concurrent creators (the event, a first listing) insert once.
channelSchema.index({ scope: 1, scopeId: 1 }, { unique: true });
// An org's channels in list order, keyset-paginated on (rank, name, _id).
channelSchema.index({ orgId: 1, rank: 1, name: 1, _id: 1 });
outboxPlugin(channelSchema);

export type ChannelModel = Model<ChannelDoc>;

export function channelModel(connection: Connection): ChannelModel {
  return (
    (connection.models.Channel as ChannelModel | undefined) ?? connection.model('Channel', channelSchema)
  );
}
