import { Schema, type Connection, type Model } from 'mongoose';
import type { AccessReader, InternalClient } from '@trellis/shared';

/** collab's chat channels, as far as access goes: which scope each belongs to. */
export interface ChatChannel {
  _id: string;
  orgId: string;
  scope: 'org' | 'team' | 'project';
  scopeId: string;
  archived: boolean;
}

const chatChannelSchema = new Schema<ChatChannel>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    scope: { type: String, required: true, enum: ['org', 'team', 'project'] },
    scopeId: { type: String, required: true },
    archived: { type: Boolean, default: false },
  },
  { collection: 'access_chat_channels', versionKey: false },
);

export function chatChannelModel(connection: Connection): Model<ChatChannel> {
  return (connection.models.ChatChannel ??
    connection.model<ChatChannel>('ChatChannel', chatChannelSchema)) as Model<ChatChannel>;
}

export type AccessAnswer = 'ok' | 'NOT_FOUND' | 'FORBIDDEN';

const CHANNEL = /^(project|task|org|chat):([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/**
 * Who may subscribe to which real-time channel (api.md §9): whoever can see the project, the task,
 * the org, or the chat channel's scope (product.md §9: anyone with access may read). Anything else
 * reads as NOT_FOUND, so a socket learns no more than the HTTP API would tell it (product.md §1).
 */
export class ChannelAccess {
  private readonly reader: AccessReader;
  private readonly channels: Model<ChatChannel>;
  private readonly collab: InternalClient | undefined;

  constructor(deps: { reader: AccessReader; channels: Model<ChatChannel>; collab?: InternalClient }) {
    this.reader = deps.reader;
    this.channels = deps.channels;
    this.collab = deps.collab;
  }

  async check(userId: string, channel: string, authorization: string): Promise<AccessAnswer> {
    if (channel === `user:${userId}`) return 'ok';
    const match = CHANNEL.exec(channel);
    if (!match) return 'NOT_FOUND';
    const [, kind, id] = match as unknown as [string, string, string];
    return (await this.visible(kind, id.toLowerCase(), userId, authorization)) ? 'ok' : 'NOT_FOUND';
  }

  private async visible(kind: string, id: string, userId: string, authorization: string): Promise<boolean> {
    switch (kind) {
      case 'project':
        return (await this.reader.project(id, userId, authorization)) !== null;
      case 'task':
        return (await this.reader.task(id, userId, authorization)) !== null;
      case 'org':
        return (await this.reader.org(id, userId, authorization)) !== null;
      default: {
        const chat = (await this.channels.findById(id).lean()) ?? (await this.askCollab(id, authorization));
        if (!chat || chat.archived) return false;
        if (chat.scope === 'org')
          return (await this.reader.org(chat.scopeId, userId, authorization)) !== null;
        if (chat.scope === 'team')
          return (await this.reader.team(chat.scopeId, userId, authorization)) !== null;
        return (await this.reader.project(chat.scopeId, userId, authorization)) !== null;
      }
    }
  }

  /**
   * A channel collab created moments ago and notify has not heard of yet (architecture.md §2: ask
   * the owner before answering 404). Not stored: the projection is written from events only.
   */
  private async askCollab(channelId: string, authorization: string): Promise<ChatChannel | null> {
    const snapshot = await this.collab?.get<Omit<ChatChannel, '_id'> & { channelId: string }>(
      `/internal/channels/${channelId}`,
      authorization,
    );
    if (!snapshot) return null;
    const { orgId, scope, scopeId, archived } = snapshot;
    return { _id: channelId, orgId, scope, scopeId, archived };
  }
}
