import { randomUUID } from 'node:crypto';
import type { Sequelize, Transaction } from 'sequelize';
import { z } from 'zod';
import {
  atLeast,
  decideTaskUpdate,
  decodeCursor,
  ensureAllowed,
  errors,
  pageOf,
  withinRestoreWindow,
  workEvents,
  type PgOutbox,
} from '@trellis/shared';
import type { AccessService, Caller, ProjectContext } from '../access/access.service.ts';
import { workEvent } from '../events/outgoing.ts';
import { PROJECT_COLUMNS, TASK_COLUMNS, ifMatchPasses, type ProjectRow, type TaskRow } from '../models.ts';
import type { PreparedStatements } from '../prepared.ts';
import {
  TASK_FIELDS,
  type CreateTaskBody,
  type CrossTaskListQuery,
  type TaskField,
  type TaskListQuery,
  type TaskView,
  type UpdateTaskBody,
} from './tasks.schemas.ts';
import { taskData, toTaskView } from './tasks.views.ts';

const listCursor = z.object({ s: z.string(), v: z.string(), id: z.uuid() });
const activityCursor = z.object({ id: z.string().regex(/^\d+$/) });

/** Sort key → SQL expression and the type its cursor value is cast back to. */
const SORTS: Record<string, { expr: string; cast: string }> = {
  createdAt: { expr: 't.created_at', cast: 'timestamptz' },
  updatedAt: { expr: 't.updated_at', cast: 'timestamptz' },
  // Tasks without a due date come last ascending (first descending), and stay keyset-pageable.
  dueDate: { expr: "coalesce(t.due_date, 'infinity'::date)", cast: 'date' },
  priority: { expr: 't.priority_rank', cast: 'smallint' },
};

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

/** A project out of reach hides its tasks: the 404 names the task. */
const asTaskNotFound = (err: unknown): never => {
  throw err instanceof Error && 'status' in err && err.status === 404 ? errors.notFound('task') : err;
};

/** Tasks, subtasks, their history and lists (product.md §8, api.md §4). */
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

  private async row(id: string) {
    const [task] = await this.statements.query<TaskRow>(
      `SELECT ${TASK_COLUMNS} FROM tasks t WHERE t.id = $id AND t.deleted_at IS NULL`,
      { id },
    );
    if (!task) throw errors.notFound('task');
    return task;
  }

  /** The task and the caller's context on its project, for reads; 404 when either is out of reach. */
  private async readable(id: string, caller: Caller) {
    const task = await this.row(id);
    const context = await this.access.projectForRead(task.projectId, caller).catch(asTaskNotFound);
    return { task, context };
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
    if (!atLeast('project', role, 'CONTRIBUTOR'))
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

  async get(caller: Caller, id: string): Promise<TaskView> {
    const { task } = await this.readable(id, caller);
    return toTaskView(task);
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

  // Lists

  private filters(query: TaskListQuery, callerId: string) {
    const where: string[] = ['t.deleted_at IS NULL'];
    const v: Record<string, unknown> = {};
    if (query.status) {
      where.push('t.status = ANY($statuses::text[])');
      v.statuses = query.status;
    }
    if (query.priority) {
      where.push('t.priority = $priority');
      v.priority = query.priority;
    }
    if (query.type) {
      where.push('t.type = $type');
      v.type = query.type;
    }
    if (query.assigneeId === 'none') where.push('t.assignee_id IS NULL');
    else if (query.assigneeId) {
      where.push('t.assignee_id = $assigneeId');
      v.assigneeId = query.assigneeId === 'me' ? callerId : query.assigneeId;
    }
    if (query.label) {
      where.push('t.labels @> ARRAY[$label::text]');
      v.label = query.label;
    }
    if (query.sprintId === 'none') where.push('t.sprint_id IS NULL');
    else if (query.sprintId) {
      where.push('t.sprint_id = $sprintId');
      v.sprintId = query.sprintId;
    }
    if (query.parentId === 'none') where.push('t.parent_id IS NULL');
    else if (query.parentId) {
      where.push('t.parent_id = $parentId');
      v.parentId = query.parentId;
    }
    if (query.q) {
      where.push(`t.search @@ websearch_to_tsquery('english', $q::text)`);
      v.q = query.q;
    }
    if (query.dueBefore) {
      where.push('t.due_date < $dueBefore');
      v.dueBefore = query.dueBefore;
    }
    if (query.dueAfter) {
      where.push('t.due_date > $dueAfter');
      v.dueAfter = query.dueAfter;
    }
    if (query.updatedSince) {
      where.push('t.updated_at >= $updatedSince');
      v.updatedSince = query.updatedSince;
    }
    const desc = query.sort.startsWith('-');
    const sortName = desc ? query.sort.slice(1) : query.sort;
    const sort = SORTS[sortName]!;
    if (query.cursor) {
      const cursor = decodeCursor(query.cursor, listCursor);
      if (cursor.s !== query.sort)
        throw errors.validation([{ path: 'query.cursor', message: 'The cursor belongs to another sort' }]);
      where.push(`(${sort.expr}, t.id) ${desc ? '<' : '>'} ($cv::${sort.cast}, $cid::uuid)`);
      v.cv = cursor.v;
      v.cid = cursor.id;
    }
    const dir = desc ? 'DESC' : 'ASC';
    return { where, values: v, order: `${sort.expr} ${dir}, t.id ${dir}`, sortExpr: sort.expr };
  }

  /** The text depends only on which filters are set and the sort: a few prepared statements. */
  private async page(
    scope: string,
    scopeValues: Record<string, unknown>,
    query: TaskListQuery,
    callerId: string,
  ) {
    const f = this.filters(query, callerId);
    const rows = await this.statements.query<TaskRow & { sortValue: string }>(
      `SELECT ${TASK_COLUMNS}, (${f.sortExpr})::text AS "sortValue" FROM tasks t
        WHERE ${scope} AND ${f.where.join(' AND ')}
        ORDER BY ${f.order} LIMIT $limit`,
      { ...scopeValues, ...f.values, limit: query.limit + 1 },
    );
    return pageOf(rows, query.limit, toTaskView, (row) => ({ s: query.sort, v: row.sortValue, id: row.id }));
  }

  async list(caller: Caller, projectId: string, query: TaskListQuery) {
    await this.access.projectForRead(projectId, caller);
    return this.page('t.project_id = $projectId', { projectId }, query, caller.id);
  }

  /** Across the projects of an org the caller can see. */
  async listAcross(caller: Caller, query: CrossTaskListQuery) {
    const org = await this.access.org(query.orgId, caller);
    const projects = await this.statements.query<ProjectRow>(
      `SELECT ${PROJECT_COLUMNS} FROM projects p WHERE p.org_id = $orgId AND p.deleted_at IS NULL`,
      { orgId: org.orgId },
    );
    const visible = await this.access.visible(projects, org, caller.id);
    if (visible.length === 0) return { items: [], nextCursor: null };
    // org_id too: with assigneeId=me, tasks_assignee (assignee_id, org_id, updated_at, id) gives the order.
    return this.page(
      't.org_id = $orgId AND t.project_id = ANY($projectIds::uuid[])',
      { orgId: org.orgId, projectIds: visible.map((v) => v.project.id) },
      query,
      caller.id,
    );
  }

  /** Found by key first; access is then decided on its project (org membership included), as `get` does. */
  async lookup(caller: Caller, orgId: string, key: string): Promise<TaskView> {
    const [task] = await this.statements.query<TaskRow>(
      // Keys are unique among live projects only: a deleted project's key may have been reused.
      `SELECT ${TASK_COLUMNS} FROM tasks t JOIN projects p ON p.id = t.project_id AND p.deleted_at IS NULL
        WHERE t.org_id = $orgId AND t.key = $key AND t.deleted_at IS NULL`,
      { orgId, key },
    );
    if (!task) throw errors.notFound('task');
    await this.access.projectForRead(task.projectId, caller).catch(asTaskNotFound);
    return toTaskView(task);
  }

  async subtasks(caller: Caller, id: string) {
    const { task } = await this.readable(id, caller);
    const rows = await this.statements.query<TaskRow>(
      `SELECT ${TASK_COLUMNS} FROM tasks t WHERE t.parent_id = $id AND t.deleted_at IS NULL ORDER BY t.number`,
      { id: task.id },
    );
    return { items: rows.map(toTaskView), nextCursor: null };
  }

  private async activityPage(
    column: 'task_id' | 'project_id',
    id: string,
    page: { limit: number; cursor?: string },
  ) {
    const after = page.cursor ? decodeCursor(page.cursor, activityCursor).id : null;
    const rows = await this.statements.query<{
      id: string;
      taskId: string;
      at: Date;
      actorId: string;
      field: string;
      from: unknown;
      to: unknown;
    }>(
      `SELECT id::text AS id, task_id AS "taskId", at, actor_id AS "actorId", field, "from", "to"
         FROM task_history WHERE ${column} = $id ${after ? 'AND id > $after::bigint' : ''}
        ORDER BY id LIMIT $limit`,
      { id, after, limit: page.limit + 1 },
    );
    return pageOf(
      rows,
      page.limit,
      (r) => ({ ...r, at: r.at.toISOString() }),
      (r) => ({ id: r.id }),
    );
  }

  async activity(caller: Caller, id: string, page: { limit: number; cursor?: string }) {
    await this.readable(id, caller);
    return this.activityPage('task_id', id, page);
  }

  async projectActivity(caller: Caller, projectId: string, page: { limit: number; cursor?: string }) {
    await this.access.projectForRead(projectId, caller);
    return this.activityPage('project_id', projectId, page);
  }
}
