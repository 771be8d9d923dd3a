import {
  collabEvents,
  createEvent,
  decodeCursor,
  errors,
  isDuplicateKeyError,
  isOwnerRole,
  type OutboxWriter,
  pageOf,
  type Page,
  type Scope,
} from '@trellis/shared';
import type { Caller, CollabAccess } from '../access/access.ts';
import { insertWithEvents, matched } from '../events/outbox.ts';
import type { ChannelDoc, ChannelModel, ChannelScope } from './channel.model.ts';
import { channelCursor, type ChannelListQuery, type ChannelView } from './channels.schemas.ts';

export interface ChannelSpec {
  orgId: string;
  scope: ChannelScope;
  scopeId: string;
  name: string;
}

/** The caller's effective role at the channel's scope: reading needs any, posting a minimum. */
export interface ChannelAccess {
  channel: ChannelDoc;
  scope: Scope;
  role: string;
  bypass: boolean;
}

const RANK: Record<ChannelScope, number> = { org: 0, team: 1, project: 2 };
/** The org's own channel. */
export const GENERAL = 'general';
const SOURCE = 'collab';
/** Channels read per query while filtering a page down to the readable ones. */
const BATCH = 100;

export function channelView(c: ChannelDoc): ChannelView {
  return { id: c._id, orgId: c.orgId, scope: c.scope, scopeId: c.scopeId, name: c.name };
}

export function orgChannel(orgId: string): ChannelSpec {
  return { orgId, scope: 'org', scopeId: orgId, name: GENERAL };
}

/**
 * Chat channels (product.md §9): one per org (`general`), team and project, created from their
 * events — and the org's on demand, when a member lists channels before `org.created` arrived.
 * The unique index on (scope, scopeId) makes every creation path idempotent. Membership is not
 * stored: reading a channel needs access to its scope, decided on the projection each time, so it
 * follows every membership change at once.
 */
export class ChannelService {
  private readonly Channel: ChannelModel;
  private readonly access: CollabAccess;
  private readonly outbox: OutboxWriter;

  constructor(deps: { Channel: ChannelModel; access: CollabAccess; outbox: OutboxWriter }) {
    this.Channel = deps.Channel;
    this.access = deps.access;
    this.outbox = deps.outbox;
  }

  /** What notify's access check needs of a channel it has not heard of yet (internal API). */
  async snapshot(
    channelId: string,
  ): Promise<{ channelId: string; orgId: string; scope: ChannelScope; scopeId: string; archived: boolean }> {
    const channel = await this.Channel.findById(channelId).lean<ChannelDoc>();
    if (!channel) throw errors.notFound('channel');
    const { orgId, scope, scopeId, archived } = channel;
    return { channelId, orgId, scope, scopeId, archived };
  }

  // ---- from events

  /** The scope's channel, created (with `channel.created`) unless it exists; `created` says which. */
  async ensure(
    spec: ChannelSpec,
    actorId: string | null,
  ): Promise<{ channel: ChannelDoc; created: boolean }> {
    const existing = await this.Channel.findOne({
      scope: spec.scope,
      scopeId: spec.scopeId,
    }).lean<ChannelDoc>();
    if (existing) return { channel: existing, created: false };
    const channel = new this.Channel({ ...spec, rank: RANK[spec.scope], createdAt: new Date() });
    try {
      await insertWithEvents(this.outbox, this.Channel, channel, [this.createdEvent(channel, actorId)]);
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
      // Another creator won the race; theirs is the channel (and the event).
      const winner = await this.Channel.findOne({
        scope: spec.scope,
        scopeId: spec.scopeId,
      }).lean<ChannelDoc>();
      if (!winner) throw err;
      return { channel: winner, created: false };
    }
    return { channel: channel.toObject(), created: true };
  }

  /** Its org, team or project was created or changed: the channel exists and carries its name. */
  async appeared(spec: ChannelSpec, actorId: string | null): Promise<ChannelDoc> {
    const { channel } = await this.ensure(spec, actorId);
    if (channel.name === spec.name) return channel;
    // A rename has no event of its own: readers see it on their next listing.
    await this.Channel.updateOne({ _id: channel._id }, { $set: { name: spec.name } });
    return { ...channel, name: spec.name };
  }

  /** Its project was restored: the channel shows again, announced as created anew. */
  async restored(spec: ChannelSpec, actorId: string | null): Promise<void> {
    const channel = await this.appeared(spec, actorId);
    if (!channel.archived) return;
    const event = this.createdEvent({ ...channel, name: spec.name }, actorId);
    await this.outbox.write(this.Channel, channel._id, [event], async (mark) =>
      matched(
        await this.Channel.updateOne(
          { _id: channel._id, archived: true },
          { $set: { archived: false, ...mark } },
        ),
      ),
    );
  }

  /** Its team or project was deleted: the channel is hidden, its history kept. */
  async archive(scope: ChannelScope, scopeId: string, actorId: string | null): Promise<void> {
    const channel = await this.Channel.findOne({ scope, scopeId, archived: false }).lean<ChannelDoc>();
    if (!channel) return;
    const event = createEvent(collabEvents.channelArchived, SOURCE, {
      subjectId: channel._id,
      orgId: channel.orgId,
      actorId,
      data: { channelId: channel._id, orgId: channel.orgId, scope, scopeId },
    });
    await this.outbox.write(this.Channel, channel._id, [event], async (mark) =>
      matched(
        await this.Channel.updateOne(
          { _id: channel._id, archived: false },
          { $set: { archived: true, ...mark } },
        ),
      ),
    );
  }

  private createdEvent(channel: Pick<ChannelDoc, '_id' | keyof ChannelSpec>, actorId: string | null) {
    const { _id, orgId, scope, scopeId, name } = channel;
    return createEvent(collabEvents.channelCreated, SOURCE, {
      subjectId: _id,
      orgId,
      actorId,
      data: { channelId: _id, orgId, scope, scopeId, name },
    });
  }

  // ---- access

  /** The user's role at the channel's scope, or null when they cannot read it. */
  async accessFor(
    channel: ChannelDoc,
    userId: string,
    authorization?: string,
  ): Promise<ChannelAccess | null> {
    const { reader } = this.access;
    switch (channel.scope) {
      case 'org': {
        const org = await reader.org(channel.orgId, userId, authorization);
        return org && { channel, scope: 'org', role: org.role, bypass: isOwnerRole(org.role) };
      }
      case 'team': {
        const team = await reader.team(channel.scopeId, userId, authorization);
        return team && { channel, scope: 'team', role: team.role, bypass: team.bypass };
      }
      case 'project': {
        const project = await reader.project(channel.scopeId, userId, authorization);
        return project && { channel, scope: 'project', role: project.role, bypass: project.bypass };
      }
    }
  }

  /** A live channel the caller can read (404 otherwise). */
  async readable(channelId: string, caller: Caller): Promise<ChannelAccess> {
    const channel = await this.Channel.findById(channelId).lean<ChannelDoc>();
    const access =
      channel && !channel.archived ? await this.accessFor(channel, caller.id, caller.authorization) : null;
    if (!access) throw errors.notFound('channel');
    return access;
  }

  // ---- API

  /** The org's channels the caller can read: general, then teams, then projects, by name. */
  async list(caller: Caller, query: ChannelListQuery): Promise<Page<ChannelView>> {
    await this.access.org(query.orgId, caller);
    await this.ensure(orgChannel(query.orgId), null);
    let position = query.cursor ? decodeCursor(query.cursor, channelCursor) : null;
    const readable: ChannelDoc[] = [];
    // Keyset over every live channel of the org, keeping the readable ones until a page (+1) is full.
    while (readable.length <= query.limit) {
      const batch = await this.Channel.find({ orgId: query.orgId, archived: false, ...after(position) })
        .sort({ rank: 1, name: 1, _id: 1 })
        .limit(BATCH)
        .lean<ChannelDoc[]>();
      for (const channel of batch) {
        if (await this.accessFor(channel, caller.id, caller.authorization)) readable.push(channel);
        if (readable.length > query.limit) break;
      }
      const last = batch.at(-1);
      if (batch.length < BATCH || !last) break;
      position = positionOf(last);
    }
    return pageOf(readable, query.limit, channelView, positionOf);
  }
}

function positionOf(c: ChannelDoc) {
  return { rank: c.rank, name: c.name, id: c._id };
}

function after(p: { rank: number; name: string; id: string } | null) {
  if (!p) return {};
  return {
    $or: [
      { rank: { $gt: p.rank } },
      { rank: p.rank, name: { $gt: p.name } },
      { rank: p.rank, name: p.name, _id: { $gt: p.id } },
    ],
  };
}
