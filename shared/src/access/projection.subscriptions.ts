import type { MongoInbox } from '../events/mongo-inbox.ts';
import {
  idempotentSubscriber,
  mongoInboxSubscriber,
  onlyWhen,
  type Subscription,
} from '../events/subscriptions.ts';
import * as work from '../events/catalogue/work.ts';
import { membershipRules, projectRules, type RuleBinder } from './projection.rules.ts';
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
 * The events that keep a MongoDB service's authorization projection current: the shared rules
 * (governance's orgs, memberships and teams, identity's users, work's projects and project
 * memberships) through the service's inbox, and work's tasks. Put them first in the service's
 * subscription list, so its own effects read an up-to-date projection.
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
  const bind: RuleBinder<void, Subscription> = (definition, effect) =>
    on(definition, (data) => effect(undefined, data));
  return [
    ...membershipRules(() => p, bind),
    ...projectRules(() => p, bind),
    onTask(work.taskCreated, (d) => p.taskCreated(d)),
    onlyWhen(
      onTask(work.taskUpdated, (d) => p.taskUpserted(d)),
      (d) => taskUpdateIsProjected(d.changes as Record<string, unknown>),
    ),
    onTask(work.taskRestored, (d) => p.taskUpserted(d, true)),
    on(work.taskDeleted, (d) => p.tasksDeleted([d.taskId, ...d.subtaskIds])),
  ];
}
