import {
  authorize,
  collabEvents,
  createEvent,
  decodeCursor,
  errors,
  ifMatchPasses,
  type OutboxWriter,
  pageOf,
  type Page,
  type TaskAccess,
} from '@trellis/shared';
import { editLost, versionGuard } from '../edits.ts';
import type { Caller, CollabAccess } from '../access/access.ts';
import { insertWithEvents, matched } from '../events/outbox.ts';
import { addedMentions, mentionsIn } from '../mentions/mentions.ts';
import type { CommentDoc, CommentModel } from './comment.model.ts';
import {
  commentCursor,
  type CommentListQuery,
  type CommentView,
  type CreateCommentBody,
  type UpdateCommentBody,
} from './comments.schemas.ts';

export function commentView(c: CommentDoc): CommentView {
  return {
    id: c._id,
    taskId: c.taskId,
    projectId: c.projectId,
    orgId: c.orgId,
    authorId: c.authorId,
    body: c.deleted ? '' : c.body,
    mentions: c.deleted ? [] : c.mentions,
    createdAt: c.createdAt.toISOString(),
    editedAt: c.editedAt?.toISOString() ?? null,
    deleted: c.deleted,
    version: c.version,
  };
}

const SOURCE = 'collab';

/**
 * Comments on tasks (product.md §9). Seeing a task's thread needs access to the task; writing
 * needs the project's `comment.create`; editing is the author's alone; deleting is the author's or
 * `comment.moderate`. Every write is one single-document write carrying its event.
 */
export class CommentService {
  private readonly Comment: CommentModel;
  private readonly access: CollabAccess;
  private readonly outbox: OutboxWriter;

  constructor(deps: { Comment: CommentModel; access: CollabAccess; outbox: OutboxWriter }) {
    this.Comment = deps.Comment;
    this.access = deps.access;
    this.outbox = deps.outbox;
  }

  /** Mentioned users who can see the task, judged on the projection alone (no token: not the caller). */
  private mentions(body: string, taskId: string): Promise<string[]> {
    return mentionsIn(body, async (userId) => (await this.access.reader.task(taskId, userId)) !== null);
  }

  async create(caller: Caller, input: CreateCommentBody): Promise<CommentView> {
    const { task, project } = await this.access.task(input.taskId, caller);
    authorize({
      scope: 'project',
      action: 'comment.create',
      memberships: project.memberships,
      settings: project.settings,
    });
    const mentions = await this.mentions(input.body, task._id);
    const now = new Date();
    const comment = new this.Comment({
      orgId: task.orgId,
      projectId: task.projectId,
      taskId: task._id,
      authorId: caller.id,
      body: input.body,
      mentions,
      createdAt: now,
    });
    const data = { ...eventIds(comment), body: input.body, mentions };
    await insertWithEvents(this.outbox, this.Comment, comment, [
      createEvent(collabEvents.commentCreated, SOURCE, this.envelope(comment, caller, now, data)),
    ]);
    return commentView(comment.toObject());
  }

  async list(caller: Caller, query: CommentListQuery): Promise<Page<CommentView>> {
    await this.access.task(query.taskId, caller);
    const after = query.cursor ? decodeCursor(query.cursor, commentCursor) : null;
    const at = after ? new Date(after.createdAt) : null;
    const rows = await this.Comment.find({
      taskId: query.taskId,
      ...(at && after
        ? { $or: [{ createdAt: { $gt: at } }, { createdAt: at, _id: { $gt: after.id } }] }
        : {}),
    })
      .sort({ createdAt: 1, _id: 1 })
      .limit(query.limit + 1)
      .lean<CommentDoc[]>();
    return pageOf(rows, query.limit, commentView, (c) => ({
      createdAt: c.createdAt.toISOString(),
      id: c._id,
    }));
  }

  /** A comment on a task the caller can see; a deleted one as its placeholder, as in the list. */
  async get(caller: Caller, id: string): Promise<CommentView> {
    const comment = await this.Comment.findById(id).lean<CommentDoc>();
    if (!comment) throw errors.notFound('comment');
    await this.access.task(comment.taskId, caller);
    return commentView(comment);
  }

  /** A live comment on a task the caller can still see (404 otherwise). */
  private async visible(caller: Caller, id: string): Promise<{ comment: CommentDoc; access: TaskAccess }> {
    const comment = await this.Comment.findById(id).lean<CommentDoc>();
    if (!comment || comment.deleted) throw errors.notFound('comment');
    return { comment, access: await this.access.task(comment.taskId, caller, 'comment') };
  }

  async update(
    caller: Caller,
    id: string,
    input: UpdateCommentBody,
    ifMatch: string | undefined,
  ): Promise<CommentView> {
    const { comment } = await this.visible(caller, id);
    if (comment.authorId !== caller.id) throw errors.forbidden('Only its author may edit a comment.');
    if (!ifMatchPasses(ifMatch, comment)) throw errors.preconditionFailed();
    const mentions = await this.mentions(input.body, comment.taskId);
    const now = new Date();
    const data = {
      ...eventIds(comment),
      body: input.body,
      mentions,
      editedAt: now.toISOString(),
      addedMentions: addedMentions(comment.mentions, mentions),
    };
    const event = createEvent(collabEvents.commentUpdated, SOURCE, this.envelope(comment, caller, now, data));
    const updated = await this.outbox.write(this.Comment, id, [event], (mark) =>
      this.Comment.findOneAndUpdate(
        { _id: id, deleted: false, ...versionGuard(ifMatch, comment) },
        { $set: { body: input.body, mentions, editedAt: now, ...mark }, $inc: { version: 1 } },
        { new: true },
      ).lean<CommentDoc>(),
    );
    if (!updated) throw editLost(ifMatch, 'comment');
    return commentView(updated);
  }

  /** The author, or whoever meets `comment.moderate`, deletes: the body goes, a placeholder stays. */
  async remove(caller: Caller, id: string): Promise<void> {
    const { comment, access } = await this.visible(caller, id);
    if (comment.authorId !== caller.id) {
      authorize({
        scope: 'project',
        action: 'comment.moderate',
        memberships: access.project.memberships,
        settings: access.project.settings,
      });
    }
    const now = new Date();
    const event = createEvent(
      collabEvents.commentDeleted,
      SOURCE,
      this.envelope(comment, caller, now, eventIds(comment)),
    );
    const removed = await this.outbox.write(this.Comment, id, [event], async (mark) =>
      matched(
        await this.Comment.updateOne(
          { _id: id, deleted: false },
          {
            $set: { deleted: true, body: '', mentions: [], deletedAt: now, deletedBy: caller.id, ...mark },
            $inc: { version: 1 },
          },
        ),
      ),
    );
    if (!removed) throw errors.notFound('comment');
  }

  private envelope<D>(comment: Pick<CommentDoc, 'taskId' | 'orgId'>, caller: Caller, at: Date, data: D) {
    // Keyed by task: a thread's events stay in order.
    return { subjectId: comment.taskId, orgId: comment.orgId, actorId: caller.id, occurredAt: at, data };
  }
}

function eventIds(c: Pick<CommentDoc, '_id' | 'orgId' | 'projectId' | 'taskId' | 'authorId'>) {
  return { commentId: c._id, orgId: c.orgId, projectId: c.projectId, taskId: c.taskId, authorId: c.authorId };
}
