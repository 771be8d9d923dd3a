import {
  ifMatchPasses,
  authorize,
  collabEvents,
  createEvent,
  decodeCursor,
  errors,
  isDuplicateKeyError,
  type OutboxWriter,
  pageOf,
  type OrgAccess,
  type Page,
} from '@trellis/shared';
import type { Caller, CollabAccess } from '../access/access.ts';
import { insertWithEvents, matched } from '../events/outbox.ts';
import type {
  AnnouncementDoc,
  AnnouncementModel,
  AnnouncementReadDoc,
  AnnouncementReadModel,
} from './announcement.model.ts';
import {
  announcementCursor,
  type AnnouncementListQuery,
  type AnnouncementView,
  type CreateAnnouncementBody,
  type ReadReceiptView,
  type ReadsView,
  type UpdateAnnouncementBody,
} from './announcements.schemas.ts';

const SOURCE = 'collab';
/** Concurrent edits without If-Match: re-read and re-apply this many times before giving up (409). */
const UPDATE_ATTEMPTS = 3;

export function announcementView(a: AnnouncementDoc): AnnouncementView {
  return {
    id: a._id,
    orgId: a.orgId,
    authorId: a.authorId,
    title: a.title,
    body: a.body,
    pinned: a.pinned,
    createdAt: a.createdAt.toISOString(),
    updatedAt: a.updatedAt.toISOString(),
    version: a.version,
  };
}

/**
 * Announcements of an org (product.md §9): posted with the org's `announcement.post`, read by its
 * members, edited and deleted by their author or an org ADMIN+, with read receipts visible to
 * ADMIN+. Each write is one single-document write carrying its event.
 */
export class AnnouncementService {
  private readonly Announcement: AnnouncementModel;
  private readonly Read: AnnouncementReadModel;
  private readonly access: CollabAccess;
  private readonly outbox: OutboxWriter;

  constructor(deps: {
    Announcement: AnnouncementModel;
    AnnouncementRead: AnnouncementReadModel;
    access: CollabAccess;
    outbox: OutboxWriter;
  }) {
    this.Announcement = deps.Announcement;
    this.Read = deps.AnnouncementRead;
    this.access = deps.access;
    this.outbox = deps.outbox;
  }

  async create(caller: Caller, input: CreateAnnouncementBody): Promise<AnnouncementView> {
    const org = await this.access.org(input.orgId, caller);
    authorize({
      scope: 'org',
      action: 'announcement.post',
      memberships: { orgRole: org.role },
      settings: { org: org.settings },
    });
    const now = new Date();
    const announcement = new this.Announcement({
      orgId: input.orgId,
      authorId: caller.id,
      title: input.title,
      body: input.body,
      pinned: input.pinned,
      createdAt: now,
      updatedAt: now,
      version: 1,
    });
    await insertWithEvents(this.outbox, this.Announcement, announcement, [
      createEvent(collabEvents.announcementPosted, SOURCE, envelope(announcement, caller, now)),
    ]);
    return announcementView(announcement.toObject());
  }

  /** Pinned first, then newest. */
  async list(caller: Caller, query: AnnouncementListQuery): Promise<Page<AnnouncementView>> {
    await this.access.org(query.orgId, caller);
    const position = query.cursor ? decodeCursor(query.cursor, announcementCursor) : null;
    const rows = await this.Announcement.find({ orgId: query.orgId, deleted: false, ...after(position) })
      .sort({ pinned: -1, createdAt: -1, _id: -1 })
      .limit(query.limit + 1)
      .lean<AnnouncementDoc[]>();
    return pageOf(rows, query.limit, announcementView, (a) => ({
      pinned: a.pinned,
      createdAt: a.createdAt.toISOString(),
      id: a._id,
    }));
  }

  /** A live announcement of an org the caller belongs to (404 otherwise). */
  private async visible(
    caller: Caller,
    id: string,
  ): Promise<{ announcement: AnnouncementDoc; org: OrgAccess }> {
    const announcement = await this.Announcement.findById(id).lean<AnnouncementDoc>();
    if (!announcement || announcement.deleted) throw errors.notFound('announcement');
    return { announcement, org: await this.access.org(announcement.orgId, caller, 'announcement') };
  }

  async get(caller: Caller, id: string): Promise<AnnouncementView> {
    return announcementView((await this.visible(caller, id)).announcement);
  }

  async update(
    caller: Caller,
    id: string,
    patch: UpdateAnnouncementBody,
    ifMatch: string | undefined,
  ): Promise<AnnouncementView> {
    for (let attempt = 1; ; attempt += 1) {
      const { announcement, org } = await this.visible(caller, id);
      mayManage(announcement, org, caller, 'announcement.update');
      if (!ifMatchPasses(ifMatch, announcement)) throw errors.preconditionFailed();
      const now = new Date();
      const next: AnnouncementDoc = {
        ...announcement,
        title: patch.title ?? announcement.title,
        body: patch.body ?? announcement.body,
        pinned: patch.pinned ?? announcement.pinned,
        updatedAt: now,
        version: announcement.version + 1,
      };
      const event = createEvent(collabEvents.announcementUpdated, SOURCE, envelope(next, caller, now));
      // Conditional on the version read, so the event describes exactly the stored result.
      const updated = await this.outbox.write(this.Announcement, id, [event], (mark) =>
        this.Announcement.findOneAndUpdate(
          { _id: id, deleted: false, version: announcement.version },
          {
            $set: {
              title: next.title,
              body: next.body,
              pinned: next.pinned,
              updatedAt: now,
              version: next.version,
              ...mark,
            },
          },
          { new: true },
        ).lean<AnnouncementDoc>(),
      );
      if (updated) return announcementView(updated);
      // Someone changed it meanwhile: with If-Match that is a precondition failure, else re-apply.
      if (ifMatch !== undefined) throw errors.preconditionFailed();
      if (attempt >= UPDATE_ATTEMPTS) throw errors.conflict('The announcement keeps changing; try again.');
    }
  }

  async remove(caller: Caller, id: string): Promise<void> {
    const { announcement, org } = await this.visible(caller, id);
    mayManage(announcement, org, caller, 'announcement.delete');
    const now = new Date();
    const event = createEvent(collabEvents.announcementDeleted, SOURCE, {
      subjectId: id,
      orgId: announcement.orgId,
      actorId: caller.id,
      occurredAt: now,
      data: { announcementId: id, orgId: announcement.orgId },
    });
    const removed = await this.outbox.write(this.Announcement, id, [event], async (mark) =>
      matched(
        await this.Announcement.updateOne(
          { _id: id, deleted: false },
          { $set: { deleted: true, deletedAt: now, deletedBy: caller.id, ...mark }, $inc: { version: 1 } },
        ),
      ),
    );
    if (!removed) throw errors.notFound('announcement');
  }

  /** Marks it read for the caller; idempotent, the first readAt stays. */
  async markRead(caller: Caller, id: string): Promise<ReadReceiptView> {
    const { announcement } = await this.visible(caller, id);
    const key = { announcementId: id, userId: caller.id };
    try {
      await this.Read.updateOne(
        key,
        { $setOnInsert: { ...key, orgId: announcement.orgId, readAt: new Date() } },
        { upsert: true },
      );
    } catch (err) {
      // Two first reads at once: the unique index lets one insert, the other finds it below.
      if (!isDuplicateKeyError(err)) throw err;
    }
    const read = await this.Read.findOne(key).lean<AnnouncementReadDoc>();
    if (!read) throw new Error('read receipt vanished after its upsert');
    return { announcementId: id, userId: caller.id, readAt: read.readAt.toISOString() };
  }

  /** Who of the org's current members has read it (org ADMIN+), earliest first. */
  async reads(caller: Caller, id: string): Promise<ReadsView> {
    const { announcement, org } = await this.visible(caller, id);
    authorize({ scope: 'org', action: 'announcement.readReceipts', memberships: { orgRole: org.role } });
    const [members, receipts] = await Promise.all([
      this.access.reader.orgMembers(announcement.orgId),
      this.Read.find({ announcementId: id }).sort({ readAt: 1, userId: 1 }).lean<AnnouncementReadDoc[]>(),
    ]);
    const current = new Set(members.map((m) => m.userId));
    const readers = receipts
      .filter((r) => current.has(r.userId))
      .map((r) => ({ userId: r.userId, readAt: r.readAt.toISOString() }));
    return { readCount: readers.length, memberCount: current.size, readers };
  }
}

/** Its author (still a member, checked by `visible`) or an org ADMIN+; 403 POLICY_DENIED otherwise. */
function mayManage(
  announcement: AnnouncementDoc,
  org: OrgAccess,
  caller: Caller,
  action: 'announcement.update' | 'announcement.delete',
): void {
  if (announcement.authorId === caller.id) return;
  authorize({ scope: 'org', action, memberships: { orgRole: org.role } });
}

type Announced = Pick<AnnouncementDoc, '_id' | 'orgId' | 'authorId' | 'title' | 'body' | 'pinned'>;

function envelope(a: Announced, caller: Caller, at: Date) {
  const { _id, orgId, authorId, title, body, pinned } = a;
  return {
    subjectId: _id,
    orgId,
    actorId: caller.id,
    occurredAt: at,
    data: { announcementId: _id, orgId, authorId, title, body, pinned },
  };
}

function after(p: { pinned: boolean; createdAt: string; id: string } | null) {
  if (!p) return {};
  const at = new Date(p.createdAt);
  const sameGroup = [
    { pinned: p.pinned, createdAt: { $lt: at } },
    { pinned: p.pinned, createdAt: at, _id: { $lt: p.id } },
  ];
  // Past the pinned ones, every unpinned one follows.
  return { $or: p.pinned ? [{ pinned: false }, ...sameGroup] : sameGroup };
}
