import {
  collabEvents,
  createEvent,
  decodeCursor,
  errors,
  ifMatchPasses,
  type OutboxWriter,
  pageOf,
  authorizeRole,
  type Page,
} from '@trellis/shared';
import { editLost, versionGuard } from '../edits.ts';
import type { Caller } from '../access/access.ts';
import { insertWithEvents, matched } from '../events/outbox.ts';
import { addedMentions, mentionsIn } from '../mentions/mentions.ts';
import type { ChannelDoc } from './channel.model.ts';
import type { ChannelService } from './channels.service.ts';
import {
  messageCursor,
  type MessageBody,
  type MessageListQuery,
  type MessageView,
} from './channels.schemas.ts';
import type { MessageDoc, MessageModel } from './message.model.ts';

const SOURCE = 'collab';

export function messageView(m: MessageDoc): MessageView {
  return {
    id: m._id,
    channelId: m.channelId,
    orgId: m.orgId,
    authorId: m.authorId,
    body: m.deleted ? '' : m.body,
    mentions: m.deleted ? [] : m.mentions,
    createdAt: m.createdAt.toISOString(),
    editedAt: m.editedAt?.toISOString() ?? null,
    deleted: m.deleted,
    version: m.version,
  };
}

/**
 * Messages of a channel: read by anyone who can read the channel, posted with the scope's minimum
 * role, edited and deleted by their author only (a deleted one stays as a placeholder).
 */
export class MessageService {
  private readonly Message: MessageModel;
  private readonly channels: ChannelService;
  private readonly outbox: OutboxWriter;

  constructor(deps: { Message: MessageModel; channels: ChannelService; outbox: OutboxWriter }) {
    this.Message = deps.Message;
    this.channels = deps.channels;
    this.outbox = deps.outbox;
  }

  /** Mentioned users who can read the channel, on the projection alone. */
  private mentions(body: string, channel: ChannelDoc): Promise<string[]> {
    return mentionsIn(body, async (userId) => (await this.channels.accessFor(channel, userId)) !== null);
  }

  async list(caller: Caller, channelId: string, query: MessageListQuery): Promise<Page<MessageView>> {
    await this.channels.readable(channelId, caller);
    const before = query.cursor ? decodeCursor(query.cursor, messageCursor) : null;
    const at = before ? new Date(before.createdAt) : null;
    const rows = await this.Message.find({
      channelId,
      ...(at && before
        ? { $or: [{ createdAt: { $lt: at } }, { createdAt: at, _id: { $lt: before.id } }] }
        : {}),
    })
      .sort({ createdAt: -1, _id: -1 })
      .limit(query.limit + 1)
      .lean<MessageDoc[]>();
    return pageOf(rows, query.limit, messageView, (m) => ({
      createdAt: m.createdAt.toISOString(),
      id: m._id,
    }));
  }

  async post(caller: Caller, channelId: string, input: MessageBody): Promise<MessageView> {
    const { channel, scope, role, bypass } = await this.channels.readable(channelId, caller);
    // The catalogue's message.post: MEMBER in org and team channels, CONTRIBUTOR in project ones.
    authorizeRole({ scope, action: 'message.post', role, bypass });
    const mentions = await this.mentions(input.body, channel);
    const now = new Date();
    const message = new this.Message({
      channelId,
      orgId: channel.orgId,
      scope: channel.scope,
      scopeId: channel.scopeId,
      authorId: caller.id,
      body: input.body,
      mentions,
      createdAt: now,
    });
    const data = { ...eventIds(message), body: input.body, mentions };
    await insertWithEvents(this.outbox, this.Message, message, [
      createEvent(collabEvents.messageCreated, SOURCE, envelope(message, caller, now, data)),
    ]);
    return messageView(message.toObject());
  }

  /** A message of a channel the caller can read; a deleted one as its placeholder, as in the list. */
  async get(caller: Caller, channelId: string, messageId: string): Promise<MessageView> {
    await this.channels.readable(channelId, caller);
    const message = await this.Message.findOne({ _id: messageId, channelId }).lean<MessageDoc>();
    if (!message) throw errors.notFound('message');
    return messageView(message);
  }

  /** A live message of a channel the caller can read, written by the caller (404, then 403). */
  private async own(caller: Caller, channelId: string, messageId: string, verb: string) {
    const { channel } = await this.channels.readable(channelId, caller);
    const message = await this.Message.findOne({ _id: messageId, channelId }).lean<MessageDoc>();
    if (!message || message.deleted) throw errors.notFound('message');
    if (message.authorId !== caller.id) throw errors.forbidden(`Only its author may ${verb} a message.`);
    return { channel, message };
  }

  async update(
    caller: Caller,
    channelId: string,
    messageId: string,
    input: MessageBody,
    ifMatch: string | undefined,
  ): Promise<MessageView> {
    const { channel, message } = await this.own(caller, channelId, messageId, 'edit');
    if (!ifMatchPasses(ifMatch, message)) throw errors.preconditionFailed();
    const mentions = await this.mentions(input.body, channel);
    const now = new Date();
    const data = {
      ...eventIds(message),
      body: input.body,
      mentions,
      editedAt: now.toISOString(),
      addedMentions: addedMentions(message.mentions, mentions),
    };
    const event = createEvent(collabEvents.messageUpdated, SOURCE, envelope(message, caller, now, data));
    const updated = await this.outbox.write(this.Message, messageId, [event], (mark) =>
      this.Message.findOneAndUpdate(
        { _id: messageId, deleted: false, ...versionGuard(ifMatch, message) },
        { $set: { body: input.body, mentions, editedAt: now, ...mark }, $inc: { version: 1 } },
        { new: true },
      ).lean<MessageDoc>(),
    );
    if (!updated) throw editLost(ifMatch, 'message');
    return messageView(updated);
  }

  async remove(caller: Caller, channelId: string, messageId: string): Promise<void> {
    const { message } = await this.own(caller, channelId, messageId, 'delete');
    const now = new Date();
    const event = createEvent(
      collabEvents.messageDeleted,
      SOURCE,
      envelope(message, caller, now, eventIds(message)),
    );
    const removed = await this.outbox.write(this.Message, messageId, [event], async (mark) =>
      matched(
        await this.Message.updateOne(
          { _id: messageId, deleted: false },
          { $set: { deleted: true, body: '', mentions: [], deletedAt: now, ...mark }, $inc: { version: 1 } },
        ),
      ),
    );
    if (!removed) throw errors.notFound('message');
  }
}

type MessageIds = Pick<MessageDoc, '_id' | 'channelId' | 'orgId' | 'scope' | 'scopeId' | 'authorId'>;

function eventIds(m: MessageIds) {
  const { channelId, orgId, scope, scopeId, authorId } = m;
  return { messageId: m._id, channelId, orgId, scope, scopeId, authorId };
}

function envelope<D>(message: MessageIds, caller: Caller, at: Date, data: D) {
  // Keyed by channel: a channel's events stay in order.
  return { subjectId: message.channelId, orgId: message.orgId, actorId: caller.id, occurredAt: at, data };
}
