import type { MongoInbox } from '../events/mongo-inbox.ts';
import {
  idempotentSubscriber,
  mongoInboxSubscriber,
  onlyWhen,
  type Subscription,
} from '../events/subscriptions.ts';
import * as governance from '../events/catalogue/governance.ts';
import * as identity from '../events/catalogue/identity.ts';
import * as work from '../events/catalogue/work.ts';
import type { ProjectionWriter } from './projection.writer.ts';

/** The task fields the projection keeps (`ProjectionWriter.taskUpserted`). */
const PROJECTED_TASK_FIELDS = ['orgId', 'projectId', 'key', 'title', 'reporterId', 'assigneeId'];

/**
 * Whether a `task.updated` changes anything the projection keeps. Most updates (description,
 * status, priority, labels, sprint …) do not: a task's events arrive in order, so its projected
 * row already holds those values, and the event can skip the store altogether — inbox included.
 * (A task never projected is asked of work by the reader's fallback, as before.)
 */
const taskUpdateIsProjected = (changes: Record<string, unknown>): boolean =>
  PROJECTED_TASK_FIELDS.some((field) => field in changes);

/**
 * The events that keep a MongoDB service's authorization projection current: governance's orgs,
 * memberships and teams, work's projects, project memberships and tasks, identity's users. Put
 * them first in the service's subscription list, so its own effects read an up-to-date projection.
 */
export function projectionSubscriptions(
  p: ProjectionWriter,
  inbox: MongoInbox,
  name: string,
): Subscription[] {
  const on = mongoInboxSubscriber(inbox, name);
  // Task events are most of the traffic; their effect is a `$set` upsert of the event's fields
  // (nothing else: `deleted` only on a restore, which sets it from the event too), safe to repeat.
  const onTask = idempotentSubscriber();
  const g = governance;
  return [
    on(g.orgCreated, (d) => p.orgUpserted(d)),
    on(g.orgUpdated, (d) => p.orgUpserted(d)),
    on(g.orgRestored, (d) => p.orgUpserted(d, true)),
    on(g.orgDeleted, (d) => p.orgDeleted(d.orgId)),
    on(g.orgOwnershipTransferred, (d) => p.orgOwnershipTransferred(d)),
    on(g.orgSettingsChanged, (d) => p.orgSettingsChanged(d)),
    on(g.memberAdded, (d) => p.orgMemberSet(d)),
    on(g.memberRoleChanged, (d) => p.orgMemberSet({ orgId: d.orgId, userId: d.userId, role: d.to })),
    on(g.memberRemoved, (d) => p.orgMemberRemoved(d)),
    on(g.teamCreated, (d) => p.teamUpserted(d)),
    on(g.teamUpdated, (d) => p.teamUpserted(d)),
    on(g.teamDeleted, (d) => p.teamDeleted(d)),
    on(g.teamOwnershipTransferred, (d) => p.teamOwnershipTransferred(d)),
    on(g.teamSettingsChanged, (d) => p.teamSettingsChanged(d)),
    on(g.teamMemberAdded, (d) => p.teamMemberSet(d)),
    on(g.teamMemberRoleChanged, (d) => p.teamMemberSet({ ...d, role: d.to })),
    on(g.teamMemberRemoved, (d) => p.teamMemberSet({ ...d, role: null })),
    on(work.projectCreated, (d) => p.projectCreated(d)),
    on(work.projectUpdated, (d) => p.projectUpserted(d)),
    on(work.projectRestored, (d) => p.projectUpserted(d, true)),
    on(work.projectDeleted, (d) => p.projectDeleted(d)),
    on(work.projectSettingsChanged, (d) => p.projectSettingsChanged(d)),
    on(work.projectMemberAdded, (d) => p.projectMemberSet(d)),
    on(work.projectMemberRoleChanged, (d) => p.projectMemberSet({ ...d, role: d.to })),
    on(work.projectMemberRemoved, (d) => p.projectMemberSet({ ...d, role: null })),
    on(work.projectOwnershipTransferred, (d) => p.projectOwnershipTransferred(d)),
    onTask(work.taskCreated, (d) => p.taskCreated(d)),
    onlyWhen(
      onTask(work.taskUpdated, (d) => p.taskUpserted(d)),
      (d) => taskUpdateIsProjected(d.changes as Record<string, unknown>),
    ),
    onTask(work.taskRestored, (d) => p.taskUpserted(d, true)),
    on(work.taskDeleted, (d) => p.tasksDeleted([d.taskId, ...d.subtaskIds])),
    on(identity.userRegistered, (d) => p.userUpserted(d)),
    on(identity.userUpdated, (d) => p.userUpserted(d)),
    on(identity.userDeleted, (d) => p.userDeleted(d.userId)),
  ];
}
