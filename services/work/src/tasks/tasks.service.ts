// Task writes: create, edit, delete (with subtasks) and restore, each with its history entries and event.
import { randomUUID } from 'node:crypto';
import type { Sequelize, Transaction } from 'sequelize';
import {
  decideRole,
  decideTaskUpdate,
  ensureAllowed,
  errors,
  withinRestoreWindow,
  workEvents,
  type PgOutbox,
} from '@trellis/shared';
import type { AccessService, Caller, ProjectContext } from '../access/access.service.ts';
import { workEvent } from '../events/outgoing.ts';
import { TASK_COLUMNS, ifMatchPasses, type TaskRow } from '../models.ts';
import type { PreparedStatements } from '../prepared.ts';
import {
  TASK_FIELDS,
  type CreateTaskBody,
  type TaskField,
  type TaskView,
  type UpdateTaskBody,
} from './tasks.schemas.ts';
import { taskData, toTaskView } from './tasks.views.ts';

const COLUMN_OF: Record<TaskField, string> = {
  title: 'title',
  description: 'description',
  status: 'status',
  priority: 'priority',
  type: 'type',
  assigneeId: 'assignee_id',
  parentId: 'parent_id',
  sprintId: 'sprint_id',
  estimate: 'estimate',
  labels: 'labels',
  startDate: 'start_date',
  dueDate: 'due_date',
};

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

interface HistoryEntry {
  field: string;
  from: unknown;
  to: unknown;
}

/** The `$history` value of HISTORY_INSERT: the entries as one JSON array, oldest first. */
const historyJson = (entries: HistoryEntry[]) =>
  JSON.stringify(entries.map((e) => ({ field: e.field, from: e.from ?? null, to: e.to ?? null })));

/**
 * A data-modifying CTE writing one task_history row per `$history` entry (by `$actorId`) for each
 * task row of `source` (with `id` and `project_id`), so the entries go in with the change that
 * makes them: no statement of their own. ORDER BY keeps their ids in the entries' order.
 */
const HISTORY_INSERT = (source: string) => `
  INSERT INTO task_history (task_id, project_id, actor_id, field, "from", "to")
  SELECT s.id, s.project_id, $actorId::uuid, e.value->>'field', e.value->'from', e.value->'to'
    FROM ${source} s, jsonb_array_elements($history::jsonb) WITH ORDINALITY AS e
   ORDER BY e.ordinality`;

/** Tasks and subtasks: create, edit, delete, restore (product.md §8, api.md §4). */
export class TaskService {
  private readonly sequelize: Sequelize;
  private readonly outbox: PgOutbox;
  private readonly access: AccessService;
  private readonly statements: PreparedStatements;

  constructor(deps: {
    sequelize: Sequelize;
    statements: PreparedStatements;
    outbox: PgOutbox;
    access: AccessService;
  }) {
    this.sequelize = deps.sequelize;
    this.statements = deps.statements;
    this.outbox = deps.outbox;
    this.access = deps.access;
  }

  /** product.md §8: an assignee needs an effective project role of CONTRIBUTOR or more. */
  private async assertAssignable(
    context: ProjectContext,
    userId: string,
    caller: Caller,
    transaction: Transaction,
  ) {
    // The caller's own role is already decided (self-assignment needs no second lookup).
    const role =
      userId === caller.id
        ? context.role
        : await this.access.roleOf(context.project.id, userId, caller, transaction);
    if (!decideRole({ scope: 'project', action: 'task.beAssigned', role, bypass: false }).allowed)
      throw errors.validation(
        [{ path: 'assigneeId', message: 'The assignee needs a project role of CONTRIBUTOR or higher' }],
        422,
      );
  }

  private async assertParent(projectId: string, parentId: string, transaction: Transaction, taskId?: string) {
    const [parent] = await this.statements.query<{ id: string }>(
      `SELECT id FROM tasks WHERE id = $parentId AND project_id = $projectId AND deleted_at IS NULL`,
      { parentId, projectId },
      transaction,
    );
    if (!parent)
      throw errors.validation([{ path: 'parentId', message: 'No such task in this project' }], 422);
    if (!taskId) return;
    // The new parent must not be the task itself or one of its descendants (any depth).
    const [cycle] = await this.statements.query(
      `WITH RECURSIVE up AS (
         SELECT id, parent_id FROM tasks WHERE id = $parentId
         UNION SELECT t.id, t.parent_id FROM tasks t JOIN up ON t.id = up.parent_id)
       SELECT 1 FROM up WHERE id = $taskId`,
      { parentId, taskId },
      transaction,
    );
    if (cycle)
      throw errors.validation([{ path: 'parentId', message: 'This parent would make a cycle' }], 422);
  }

  /** A task's sprint: one of its project, not COMPLETED (the row is held FOR SHARE until commit). */
  private async assertSprint(projectId: string, sprintId: string, transaction: Transaction) {
    const [sprint] = await this.statements.query<{ state: string }>(
      `SELECT state FROM sprints WHERE id = $sprintId AND project_id = $projectId FOR SHARE`,
      { sprintId, projectId },
      transaction,
    );
    if (!sprint)
      throw errors.validation([{ path: 'sprintId', message: 'No such sprint in this project' }], 422);
    if (sprint.state === 'COMPLETED')
      throw errors.validation([{ path: 'sprintId', message: 'The sprint is COMPLETED' }], 422);
  }

  async create(caller: Caller, projectId: string, body: CreateTaskBody): Promise<TaskView> {
    return this.sequelize.transaction(async (transaction) => {
      const context = await this.access.project(projectId, caller, { transaction });
      this.access.authorize(context, 'task.create');
      const { project } = context;
      if (project.status === 'ARCHIVED' || project.status === 'PENDING_APPROVAL')
        throw errors.conflict(`Tasks cannot be created in a ${project.status} project.`);
      if (body.parentId) await this.assertParent(projectId, body.parentId, transaction);
      if (body.assigneeId) await this.assertAssignable(context, body.assigneeId, caller, transaction);
      if (body.sprintId) await this.assertSprint(projectId, body.sprintId, transaction);
      const id = randomUUID();
      const status = body.status ?? 'TODO';
      // One statement takes the next number, inserts the task and its `created` entry. The counter
      // row stays locked until commit, so concurrent creates queue there and numbers have no gaps:
      // one is used only if this transaction commits.
      const [task] = await this.statements.query<TaskRow>(
        `WITH counter AS (
           UPDATE task_counters SET last_number = last_number + 1 WHERE project_id = $projectId
           RETURNING last_number AS n
         ), created AS (
           INSERT INTO tasks (id, org_id, project_id, number, key, parent_id, title, description, status, priority,
                              type, assignee_id, reporter_id, sprint_id, estimate, labels, start_date, due_date,
                              completed_at)
           SELECT $id::uuid, $orgId::uuid, $projectId::uuid, n, $projectKey::text || '-' || n, $parentId::uuid,
                  $title::text, $description::text, $status::text, $priority::text, $type::text, $assigneeId::uuid,
                  $reporterId::uuid, $sprintId::uuid, $estimate::integer, $labels::text[], $startDate::date,
                  $dueDate::date, ${status === 'DONE' ? 'now()' : 'NULL'}
             FROM counter
           RETURNING *
         ), history AS (
           INSERT INTO task_history (task_id, project_id, actor_id, field, "from", "to")
           SELECT id, project_id, $reporterId::uuid, 'created', 'null', to_jsonb(key) FROM created
         )
         SELECT ${TASK_COLUMNS} FROM created t`,
        {
          id,
          orgId: project.orgId,
          projectId,
          projectKey: project.key,
          parentId: body.parentId ?? null,
          title: body.title,
          description: body.description ?? null,
          status,
          priority: body.priority ?? 'MEDIUM',
          type: body.type ?? 'TASK',
          assigneeId: body.assigneeId ?? null,
          reporterId: caller.id,
          sprintId: body.sprintId ?? null,
          estimate: body.estimate ?? null,
          labels: body.labels ?? [],
          startDate: body.startDate ?? null,
          dueDate: body.dueDate ?? null,
        },
        transaction,
      );
      if (!task) throw new Error(`project ${projectId} has no task counter`);
      await this.outbox.add(
        transaction,
        workEvent(workEvents.taskCreated, {
          orgId: task.orgId,
          actorId: caller.id,
          subjectId: id,
          data: taskData(task),
        }),
      );
      return toTaskView(task);
    });
  }

  /**
   * Five round trips when nothing else needs checking: BEGIN, the task (locked) with the caller's
   * context on its project, the update with its history entries, the outbox row, COMMIT.
   */
  async update(caller: Caller, id: string, body: UpdateTaskBody, ifMatch?: string): Promise<TaskView> {
    return this.sequelize.transaction(async (transaction) => {
      const { task, context } = await this.access.task(id, caller, { transaction });
      ensureAllowed(
        decideTaskUpdate({
          memberships: context.memberships,
          settings: context.settings,
          isCreator: task.reporterId === caller.id,
          isAssignee: task.assigneeId !== null && task.assigneeId === caller.id,
        }),
      );
      if (!ifMatchPasses(ifMatch, task)) throw errors.preconditionFailed();
      const current = toTaskView(task) as unknown as Record<TaskField, unknown>;
      const changes: Record<string, { from: unknown; to: unknown }> = {};
      for (const field of TASK_FIELDS) {
        const next = (body as Record<string, unknown>)[field];
        if (next === undefined || same(next, current[field])) continue;
        changes[field] = { from: current[field], to: next };
      }
      if (Object.keys(changes).length === 0) return toTaskView(task);
      if (changes.parentId && body.parentId)
        await this.assertParent(task.projectId, body.parentId, transaction, task.id);
      if (changes.assigneeId && body.assigneeId)
        await this.assertAssignable(context, body.assigneeId, caller, transaction);
      if (changes.sprintId && body.sprintId)
        await this.assertSprint(task.projectId, body.sprintId, transaction);
      const sets: string[] = [];
      const values: Record<string, unknown> = {
        id,
        actorId: caller.id,
        history: historyJson(Object.entries(changes).map(([field, c]) => ({ field, ...c }))),
      };
      for (const [field, change] of Object.entries(changes)) {
        sets.push(`${COLUMN_OF[field as TaskField]} = $${field}`);
        values[field] = change.to;
      }
      if (changes.status) {
        // completedAt follows DONE: set on entering it, cleared on leaving it.
        if (changes.status.to === 'DONE') sets.push('completed_at = now()');
        else if (changes.status.from === 'DONE') sets.push('completed_at = NULL');
      }
      const [updated] = await this.statements.query<TaskRow>(
        `WITH updated AS (
           UPDATE tasks SET ${sets.join(', ')}, version = version + 1, updated_at = now() WHERE id = $id RETURNING *
         ), history AS (${HISTORY_INSERT('updated')})
         SELECT ${TASK_COLUMNS} FROM updated t`,
        values,
        transaction,
      );
      if (!updated) throw new Error(`task ${id} vanished under its lock`);
      await this.outbox.add(
        transaction,
        workEvent(workEvents.taskUpdated, {
          orgId: updated.orgId,
          actorId: caller.id,
          subjectId: id,
          data: { ...taskData(updated), changes },
        }),
      );
      return toTaskView(updated);
    });
  }

  /** Soft delete, cascading to every subtask (any depth). */
  async remove(caller: Caller, id: string): Promise<void> {
    await this.sequelize.transaction(async (transaction) => {
      const { task, context } = await this.access.task(id, caller, { transaction });
      this.access.authorize(context, 'task.delete');
      const rows = await this.statements.query<{ id: string }>(
        `WITH RECURSIVE down AS (
           SELECT id FROM tasks WHERE id = $id
           UNION SELECT t.id FROM tasks t JOIN down ON t.parent_id = down.id WHERE t.deleted_at IS NULL
         ), deleted AS (
           UPDATE tasks SET deleted_at = now(), updated_at = now(), version = version + 1
            WHERE id IN (SELECT id FROM down) RETURNING id, project_id
         ), history AS (${HISTORY_INSERT('(SELECT * FROM deleted WHERE id = $id)')})
         SELECT id FROM deleted`,
        { id, actorId: caller.id, history: historyJson([{ field: 'deleted', from: null, to: true }]) },
        transaction,
      );
      await this.outbox.add(
        transaction,
        workEvent(workEvents.taskDeleted, {
          orgId: task.orgId,
          actorId: caller.id,
          subjectId: id,
          data: {
            taskId: id,
            orgId: task.orgId,
            projectId: task.projectId,
            key: task.key,
            subtaskIds: rows.map((r) => r.id).filter((r) => r !== id),
          },
        }),
      );
    });
  }

  /** Brings a deleted task back with the subtasks deleted with it (same instant), within 30 days. */
  async restore(caller: Caller, id: string): Promise<TaskView> {
    return this.sequelize.transaction(async (transaction) => {
      const { task, context } = await this.access.task(id, caller, { transaction, deleted: true });
      this.access.authorize(context, 'task.delete');
      if (!task.deletedAt) throw errors.conflict('The task is not deleted.');
      if (!withinRestoreWindow(task.deletedAt)) throw errors.notFound('task');
      if (task.parentId) {
        const [parent] = await this.statements.query(
          `SELECT 1 FROM tasks WHERE id = $parentId AND deleted_at IS NULL`,
          { parentId: task.parentId },
          transaction,
        );
        if (!parent) throw errors.conflict('Its parent task is deleted; restore the parent first.');
      }
      const [restored] = await this.statements.query<TaskRow>(
        `WITH RECURSIVE down AS (
           SELECT id FROM tasks WHERE id = $id
           UNION SELECT t.id FROM tasks t JOIN down ON t.parent_id = down.id
            WHERE t.deleted_at = (SELECT deleted_at FROM tasks WHERE id = $id)
         ), restored AS (
           UPDATE tasks SET deleted_at = NULL, updated_at = now(), version = version + 1
            WHERE id IN (SELECT id FROM down) RETURNING *
         ), history AS (${HISTORY_INSERT('(SELECT * FROM restored WHERE id = $id)')})
         SELECT ${TASK_COLUMNS} FROM restored t WHERE t.id = $id`,
        { id, actorId: caller.id, history: historyJson([{ field: 'deleted', from: true, to: false }]) },
        transaction,
      );
      if (!restored) throw new Error(`task ${id} vanished under its lock`);
      await this.outbox.add(
        transaction,
        workEvent(workEvents.taskRestored, {
          orgId: restored.orgId,
          actorId: caller.id,
          subjectId: id,
          data: taskData(restored),
        }),
      );
      return toTaskView(restored);
    });
  }
}
