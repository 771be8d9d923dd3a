import {
  collabEvents,
  decide,
  governanceEvents,
  notifyEvents,
  workEvents,
  type AccessReader,
  type AccessUser,
  type EventDefinition,
  type EventEnvelope,
  type OrgAction,
} from '@trellis/shared';
import type { NotificationType, Subject, TaskCommenters } from './notification.model.ts';
import type { Model } from 'mongoose';

/** A notification some event asks for, before preferences are applied. */
export interface Intent {
  userId: string;
  type: NotificationType;
  title: string;
  body: string;
  subject: Subject;
}

export interface TriggerContext {
  reader: AccessReader;
  commenters: Model<TaskCommenters>;
  /** A user's name and e-mail, from the projection (kept a few seconds: see `Notifier`). */
  user: (userId: string) => Promise<AccessUser | null>;
  /** Whether a user can see a project, from the projection (kept a moment: see `Notifier`). */
  canSee: (projectId: string, userId: string) => Promise<boolean>;
}

/** One trigger of product.md §10: the event type it reacts to and the notifications it asks for. */
export interface Trigger<D extends Record<string, unknown> = Record<string, unknown>> {
  definition: EventDefinition<D>;
  intents: (event: EventEnvelope<D>, ctx: TriggerContext) => Promise<Intent[]>;
  /**
   * False when the event's data alone shows there is nothing to notify (a `task.updated` that
   * changes neither assignee nor status): the consumer then skips it without touching the store.
   */
  applies: (data: D) => boolean;
}

function trigger<D extends Record<string, unknown>>(
  definition: EventDefinition<D>,
  intents: (event: EventEnvelope<D>, ctx: TriggerContext) => Promise<Intent[]>,
  applies: (data: D) => boolean = () => true,
): Trigger {
  return { definition, intents, applies } as unknown as Trigger;
}

/** The member's own role changed, in the org or in one of its teams or projects. */
function roleChanged(
  d: { userId: string; from: string; to: string },
  scope: 'organization' | 'team' | 'project',
  subject: Subject,
): Intent {
  return {
    userId: d.userId,
    type: 'member.roleChanged',
    title: `Your ${scope === 'organization' ? '' : `${scope} `}role changed to ${d.to}`,
    body: `Your ${scope} role was ${d.from} and is now ${d.to}.`,
    subject,
  };
}

/** The org's members whom the org policy allows `action` (who decides approvals, who manages webhooks). */
async function membersAllowed(ctx: TriggerContext, orgId: string, action: OrgAction) {
  const [members, org] = await Promise.all([ctx.reader.orgMembers(orgId), ctx.reader.orgSettings(orgId)]);
  return members.filter(
    (m) => decide({ scope: 'org', action, memberships: { orgRole: m.role }, settings: { org } }).allowed,
  );
}

async function nameOf(ctx: TriggerContext, userId: string | null): Promise<string> {
  return (userId ? (await ctx.user(userId))?.name : undefined) ?? 'Someone';
}

/** The users among `userIds` who can see the project (from the projection: no token, no fallback). */
async function withProjectAccess(ctx: TriggerContext, projectId: string, userIds: string[]) {
  const allowed: string[] = [];
  for (const userId of new Set(userIds)) if (await ctx.canSee(projectId, userId)) allowed.push(userId);
  return allowed;
}

/**
 * The task a comment is on. Comments and tasks travel on different topics, so a comment on a
 * brand-new task can arrive first: failing lets the consumer retry (with backoff) until work's
 * `task.created` has been projected, instead of notifying without knowing the task's people.
 */
async function knownTask(ctx: TriggerContext, taskId: string) {
  const task = await ctx.reader.taskRow(taskId);
  if (!task) throw new Error(`task ${taskId} is not projected yet; retrying`);
  return task;
}

const snippet = (text: string) => (text.length > 140 ? `${text.slice(0, 139)}…` : text);

const taskSubject = (taskId: string): Subject => ({ kind: 'task', id: taskId });

type TaskData = { taskId: string; key: string; title: string; projectId: string; assigneeId: string | null };

async function assigned(event: EventEnvelope<TaskData>, ctx: TriggerContext): Promise<Intent[]> {
  const d = event.data;
  if (!d.assigneeId) return [];
  if (!(await ctx.canSee(d.projectId, d.assigneeId))) return [];
  return [
    {
      userId: d.assigneeId,
      type: 'task.assigned',
      title: `${await nameOf(ctx, event.actorId)} assigned you ${d.key}`,
      body: d.title,
      subject: taskSubject(d.taskId),
    },
  ];
}

/** Mentions in a comment or a chat message: the producer already kept only users with access. */
async function mentioned(
  event: EventEnvelope<{ body?: string }>,
  ctx: TriggerContext,
  userIds: string[],
  where: string,
  subject: Subject,
): Promise<Intent[]> {
  const who = await nameOf(ctx, event.actorId);
  return userIds.map((userId) => ({
    userId,
    type: 'mention' as const,
    title: `${who} mentioned you ${where}`,
    body: snippet(event.data.body ?? ''),
    subject,
  }));
}

/**
 * Every trigger of product.md §10, in one place. The notifier drops the actor, keeps the first
 * intent per recipient (an event notifies a user once) and applies the preferences.
 */
export const TRIGGERS: Trigger[] = [
  trigger(workEvents.taskCreated, (event, ctx) => assigned(event, ctx)),
  trigger(
    workEvents.taskUpdated,
    async (event, ctx) => {
      const d = event.data;
      const intents: Intent[] = [];
      if (d.changes.assigneeId) intents.push(...(await assigned(event, ctx)));
      const status = d.changes.status;
      if (status) {
        const people = [d.reporterId, ...(d.assigneeId ? [d.assigneeId] : [])];
        const who = await nameOf(ctx, event.actorId);
        for (const userId of await withProjectAccess(ctx, d.projectId, people))
          intents.push({
            userId,
            type: 'task.statusChanged',
            title: `${who} moved ${d.key} to ${String(status.to)}`,
            body: d.title,
            subject: taskSubject(d.taskId),
          });
      }
      return intents;
    },
    (d) => Boolean(d.changes.assigneeId || d.changes.status),
  ),
  trigger(collabEvents.commentCreated, async (event, ctx) => {
    const d = event.data;
    const task = await knownTask(ctx, d.taskId);
    const where = `on ${task.key}`;
    const subject: Subject = { kind: 'comment', id: d.commentId };
    const intents = await mentioned(event, ctx, d.mentions, where, subject);
    const earlier = (await ctx.commenters.findById(d.taskId).lean())?.userIds ?? [];
    const people = [task.reporterId, ...(task.assigneeId ? [task.assigneeId] : []), ...earlier];
    const who = await nameOf(ctx, event.actorId);
    for (const userId of await withProjectAccess(ctx, d.projectId, people))
      intents.push({
        userId,
        type: 'comment.created',
        title: `${who} commented ${where}`,
        body: snippet(d.body),
        subject,
      });
    return intents;
  }),
  trigger(collabEvents.commentUpdated, async (event, ctx) => {
    const task = await knownTask(ctx, event.data.taskId);
    const subject: Subject = { kind: 'comment', id: event.data.commentId };
    return mentioned(event, ctx, event.data.addedMentions, `on ${task.key}`, subject);
  }),
  trigger(collabEvents.messageCreated, (event, ctx) =>
    mentioned(event, ctx, event.data.mentions, 'in a chat', { kind: 'message', id: event.data.messageId }),
  ),
  trigger(collabEvents.messageUpdated, (event, ctx) =>
    mentioned(event, ctx, event.data.addedMentions, 'in a chat', {
      kind: 'message',
      id: event.data.messageId,
    }),
  ),
  trigger(governanceEvents.invitationCreated, async (event, ctx) => {
    const d = event.data;
    const invitee = await ctx.reader.userByEmail(d.email);
    if (!invitee) return [];
    return [
      {
        userId: invitee._id,
        type: 'invitation.received',
        title: `${await nameOf(ctx, d.invitedBy)} invited you to an organization`,
        body: `Role: ${d.role}. The invitation expires on ${d.expiresAt}.`,
        subject: { kind: 'invitation', id: d.invitationId },
      },
    ];
  }),
  // "Role changed" (product.md §10) names no scope: team and project roles are roles too.
  trigger(governanceEvents.memberRoleChanged, async ({ data }) => [
    roleChanged(data, 'organization', { kind: 'org', id: data.orgId }),
  ]),
  trigger(governanceEvents.teamMemberRoleChanged, async ({ data }) => [
    roleChanged(data, 'team', { kind: 'team', id: data.teamId }),
  ]),
  trigger(workEvents.projectMemberRoleChanged, async ({ data }) => [
    roleChanged(data, 'project', { kind: 'project', id: data.projectId }),
  ]),
  trigger(governanceEvents.memberRemoved, async (event) =>
    event.data.reason === 'removed'
      ? [
          {
            userId: event.data.userId,
            type: 'member.removed',
            title: 'You were removed from an organization',
            body: 'You no longer have access to its teams, projects and channels.',
            subject: { kind: 'org', id: event.data.orgId },
          },
        ]
      : [],
  ),
  trigger(governanceEvents.approvalRequested, async (event, ctx) => {
    const d = event.data;
    const deciders = await membersAllowed(ctx, d.orgId, 'approval.decide');
    const who = await nameOf(ctx, d.requestedBy);
    return deciders.map((m) => ({
      userId: m.userId,
      type: 'approval.requested' as const,
      title: `${who} asks for approval: ${d.kind}`,
      body: 'An action in your organization waits for a decision.',
      subject: { kind: 'approval' as const, id: d.approvalId },
    }));
  }),
  trigger(governanceEvents.approvalDecided, async (event) => [
    {
      userId: event.data.requestedBy,
      type: 'approval.decided',
      title: `Your request (${event.data.kind}) was ${event.data.decision.toLowerCase()}`,
      body: event.data.reason ?? '',
      subject: { kind: 'approval', id: event.data.approvalId },
    },
  ]),
  trigger(workEvents.sprintStarted, async (event, ctx) =>
    (await ctx.reader.projectPeople(event.data.projectId)).map((userId) => ({
      userId,
      type: 'sprint.started' as const,
      title: `Sprint ${event.data.name} started`,
      body: event.data.goal ?? '',
      subject: { kind: 'sprint' as const, id: event.data.sprintId },
    })),
  ),
  trigger(workEvents.sprintCompleted, async (event, ctx) =>
    (await ctx.reader.projectPeople(event.data.projectId)).map((userId) => ({
      userId,
      type: 'sprint.completed' as const,
      title: `Sprint ${event.data.name} completed`,
      body: `${event.data.completedPoints} of ${event.data.committedPoints} committed points done.`,
      subject: { kind: 'sprint' as const, id: event.data.sprintId },
    })),
  ),
  trigger(collabEvents.announcementPosted, async (event, ctx) =>
    (await ctx.reader.orgMembers(event.data.orgId)).map((m) => ({
      userId: m.userId,
      type: 'announcement.posted' as const,
      title: event.data.title,
      body: snippet(event.data.body),
      subject: { kind: 'announcement' as const, id: event.data.announcementId },
    })),
  ),
  // api.md §10: those who may manage the org's webhooks (its ADMINs by default) hear that one was turned off.
  trigger(notifyEvents.webhookDisabled, async (event, ctx) =>
    (await membersAllowed(ctx, event.data.orgId, 'webhook.manage')).map((m) => ({
      userId: m.userId,
      type: 'webhook.disabled' as const,
      title: `Webhook to ${event.data.url} was disabled`,
      body: `It kept failing (${event.data.reason}). Fix the receiver, then turn it on again.`,
      subject: { kind: 'webhook' as const, id: event.data.webhookId },
    })),
  ),
];
