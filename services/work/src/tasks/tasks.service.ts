import { randomUUID } from 'node:crypto';
import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import { z } from 'zod';
import {
  atLeast,
  decideTaskUpdate,
  decodeCursor,
  effectiveProjectRole,
  ensureAllowed,
  errors,
  pageOf,
  workEvents,
  type PgOutbox,
  type ProjectRole,
  type TeamRole,
} from '@trellis/shared';
import type { AccessService, Caller, ProjectContext } from '../access/access.service.ts';
import { workEvent } from '../events/outgoing.ts';
import { PROJECT_COLUMNS, TASK_COLUMNS, ifMatchPasses, type ProjectRow, type TaskRow } from '../models.ts';
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

const RESTORE_DAYS = 30;
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

/** A text[] literal; each element quoted and escaped the JSON way, which PostgreSQL's array syntax reads. */
const pgArray = (values: string[]) => `{${values.map((v) => JSON.stringify(v)).join(',')}}`;

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** A project out of reach hides its tasks: the 404 names the task. */
const asTaskNotFound = (err: unknown): never => {
  throw err instanceof Error && 'status' in err && err.status === 404 ? errors.notFound('task') : err;
};

/** Tasks, subtasks, their history and lists (product.md §8, api.md §4). */
export class TaskService {
  private readonly sequelize: Sequelize;
  private readonly outbox: PgOutbox;
  private readonly access: AccessService;

  constructor(deps: { sequelize: Sequelize; outbox: PgOutbox; access: AccessService }) {
    this.sequelize = deps.sequelize;
    this.outbox = deps.outbox;
    this.access = deps.access;
  }

  private async row(id: string, transaction?: Transaction, opts: { lock?: boolean; deleted?: boolean } = {}) {
    const [task] = await this.sequelize.query<TaskRow>(
      `SELECT ${TASK_COLUMNS} FROM tasks t WHERE t.id = :id ${opts.deleted ? '' : 'AND t.deleted_at IS NULL'}
        ${opts.lock && transaction ? 'FOR UPDATE' : ''}`,
      { replacements: { id }, type: QueryTypes.SELECT, transaction },
    );
    if (!task) throw errors.notFound('task');
    return task;
  }

  /** The task and the caller's context on its project; 404 when either is out of reach. */
  private async taskContext(id: string, caller: Caller, transaction?: Transaction, deleted = false) {
    const task = await this.row(id, transaction, { lock: Boolean(transaction), deleted });
    const context = await (
      transaction
        ? this.access.project(task.projectId, caller, { transaction })
        : this.access.projectForRead(task.projectId, caller)
    ).catch(asTaskNotFound);
    return { task, context };
  }

  /** product.md §8: an assignee needs an effective project role of CONTRIBUTOR or more. */
  private async assertAssignable(
    context: ProjectContext,
    userId: string,
    caller: Caller,
    transaction: Transaction,
  ) {
    const { project } = context;
    const org = await this.access.orgOrNull(project.orgId, userId, caller.authorization, transaction);
    let role: ProjectRole | null = null;
    if (org) {
      const [explicit] = await this.sequelize.query<{ role: ProjectRole }>(
        `SELECT role FROM project_members WHERE project_id = :projectId AND user_id = :userId`,
        { replacements: { projectId: project.id, userId }, type: QueryTypes.SELECT, transaction },
      );
      const team: { role: TeamRole | null } | null = project.teamId
        ? await this.access.team(project.orgId, project.teamId, userId, transaction)
        : null;
      role = effectiveProjectRole({
        orgRole: org.role,
        teamRole: team?.role ?? null,
        projectRole: explicit?.role ?? null,
        visibility: project.visibility,
        projectHasTeam: project.teamId !== null,
      }).role;
    }
    if (!atLeast('project', role, 'CONTRIBUTOR'))
      throw errors.validation(
        [{ path: 'assigneeId', message: 'The assignee needs a project role of CONTRIBUTOR or higher' }],
        422,
      );
  }

  private async assertParent(projectId: string, parentId: string, transaction: Transaction, taskId?: string) {
    const [parent] = await this.sequelize.query<{ id: string }>(
      `SELECT id FROM tasks WHERE id = :parentId AND project_id = :projectId AND deleted_at IS NULL`,
      { replacements: { parentId, projectId }, type: QueryTypes.SELECT, transaction },
    );
    if (!parent)
      throw errors.validation([{ path: 'parentId', message: 'No such task in this project' }], 422);
    if (!taskId) return;
    // The new parent must not be the task itself or one of its descendants (any depth).
    const [cycle] = await this.sequelize.query(
      `WITH RECURSIVE up AS (
         SELECT id, parent_id FROM tasks WHERE id = :parentId
         UNION SELECT t.id, t.parent_id FROM tasks t JOIN up ON t.id = up.parent_id)
       SELECT 1 FROM up WHERE id = :taskId`,
      { replacements: { parentId, taskId }, type: QueryTypes.SELECT, transaction },
    );
    if (cycle)
      throw errors.validation([{ path: 'parentId', message: 'This parent would make a cycle' }], 422);
  }

  /** A task's sprint: one of its project, not COMPLETED (the row is held FOR SHARE until commit). */
  private async assertSprint(projectId: string, sprintId: string, transaction: Transaction) {
    const [sprint] = await this.sequelize.query<{ state: string }>(
      `SELECT state FROM sprints WHERE id = :sprintId AND project_id = :projectId FOR SHARE`,
      { replacements: { sprintId, projectId }, type: QueryTypes.SELECT, transaction },
    );
    if (!sprint)
      throw errors.validation([{ path: 'sprintId', message: 'No such sprint in this project' }], 422);
    if (sprint.state === 'COMPLETED')
      throw errors.validation([{ path: 'sprintId', message: 'The sprint is COMPLETED' }], 422);
  }

  private async history(
    transaction: Transaction,
    task: TaskRow,
    actorId: string,
    entries: { field: string; from: unknown; to: unknown }[],
  ) {
    for (const e of entries)
      await this.sequelize.query(
        `INSERT INTO task_history (task_id, project_id, actor_id, field, "from", "to")
         VALUES (:taskId, :projectId, :actorId, :field, :from::jsonb, :to::jsonb)`,
        {
          replacements: {
            taskId: task.id,
            projectId: task.projectId,
            actorId,
            field: e.field,
            from: JSON.stringify(e.from ?? null),
            to: JSON.stringify(e.to ?? null),
          },
          transaction,
        },
      );
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
      // The counter row lock queues concurrent creates; the number is used only if this commits.
      const [counter] = await this.sequelize.query<{ n: number }>(
        `UPDATE task_counters SET last_number = last_number + 1 WHERE project_id = :projectId
         RETURNING last_number AS n`,
        { replacements: { projectId }, type: QueryTypes.SELECT, transaction },
      );
      if (!counter) throw new Error(`project ${projectId} has no task counter`);
      const id = randomUUID();
      const status = body.status ?? 'TODO';
      await this.sequelize.query(
        `INSERT INTO tasks (id, org_id, project_id, number, key, parent_id, title, description, status, priority,
                            type, assignee_id, reporter_id, sprint_id, estimate, labels, start_date, due_date,
                            completed_at)
         VALUES (:id, :orgId, :projectId, :number, :key, :parentId, :title, :description, :status, :priority,
                 :type, :assigneeId, :reporterId, :sprintId, :estimate, CAST(:labels AS text[]), :startDate,
                 :dueDate, ${status === 'DONE' ? 'now()' : 'NULL'})`,
        {
          replacements: {
            id,
            orgId: project.orgId,
            projectId,
            number: counter.n,
            key: `${project.key}-${counter.n}`,
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
            labels: pgArray(body.labels ?? []),
            startDate: body.startDate ?? null,
            dueDate: body.dueDate ?? null,
          },
          transaction,
        },
      );
      const task = await this.row(id, transaction);
      await this.history(transaction, task, caller.id, [{ field: 'created', from: null, to: task.key }]);
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
    const { task } = await this.taskContext(id, caller);
    return toTaskView(task);
  }

  async update(caller: Caller, id: string, body: UpdateTaskBody, ifMatch?: string): Promise<TaskView> {
    return this.sequelize.transaction(async (transaction) => {
      const { task, context } = await this.taskContext(id, caller, transaction);
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
      const replacements: Record<string, unknown> = { id };
      for (const [field, change] of Object.entries(changes)) {
        const column = COLUMN_OF[field as TaskField];
        if (field === 'labels') {
          sets.push(`labels = CAST(:labels AS text[])`);
          replacements.labels = pgArray(change.to as string[]);
        } else {
          sets.push(`${column} = :${field}`);
          replacements[field] = change.to;
        }
      }
      if (changes.status) {
        // completedAt follows DONE: set on entering it, cleared on leaving it.
        if (changes.status.to === 'DONE') sets.push('completed_at = now()');
        else if (changes.status.from === 'DONE') sets.push('completed_at = NULL');
      }
      await this.sequelize.query(
        `UPDATE tasks SET ${sets.join(', ')}, version = version + 1, updated_at = now() WHERE id = :id`,
        { replacements, transaction },
      );
      const updated = await this.row(id, transaction);
      await this.history(
        transaction,
        updated,
        caller.id,
        Object.entries(changes).map(([field, c]) => ({ field, ...c })),
      );
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
      const { task, context } = await this.taskContext(id, caller, transaction);
      this.access.authorize(context, 'task.delete');
      const rows = await this.sequelize.query<{ id: string }>(
        `WITH RECURSIVE down AS (
           SELECT id FROM tasks WHERE id = :id
           UNION SELECT t.id FROM tasks t JOIN down ON t.parent_id = down.id WHERE t.deleted_at IS NULL)
         UPDATE tasks SET deleted_at = now(), updated_at = now(), version = version + 1
          WHERE id IN (SELECT id FROM down) RETURNING id`,
        { replacements: { id }, type: QueryTypes.SELECT, transaction },
      );
      await this.history(transaction, task, caller.id, [{ field: 'deleted', from: null, to: true }]);
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
      const { task, context } = await this.taskContext(id, caller, transaction, true);
      this.access.authorize(context, 'task.delete');
      if (!task.deletedAt) throw errors.conflict('The task is not deleted.');
      if (Date.now() - task.deletedAt.getTime() > RESTORE_DAYS * 86_400_000) throw errors.notFound('task');
      if (task.parentId) {
        const [parent] = await this.sequelize.query(
          `SELECT 1 FROM tasks WHERE id = :parentId AND deleted_at IS NULL`,
          { replacements: { parentId: task.parentId }, type: QueryTypes.SELECT, transaction },
        );
        if (!parent) throw errors.conflict('Its parent task is deleted; restore the parent first.');
      }
      await this.sequelize.query(
        `WITH RECURSIVE down AS (
           SELECT id FROM tasks WHERE id = :id
           UNION SELECT t.id FROM tasks t JOIN down ON t.parent_id = down.id
            WHERE t.deleted_at = (SELECT deleted_at FROM tasks WHERE id = :id))
         UPDATE tasks SET deleted_at = NULL, updated_at = now(), version = version + 1
          WHERE id IN (SELECT id FROM down)`,
        { replacements: { id }, transaction },
      );
      const restored = await this.row(id, transaction);
      await this.history(transaction, restored, caller.id, [{ field: 'deleted', from: true, to: false }]);
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
    const r: Record<string, unknown> = {};
    if (query.status) {
      where.push('t.status IN (:statuses)');
      r.statuses = query.status;
    }
    if (query.priority) {
      where.push('t.priority = :priority');
      r.priority = query.priority;
    }
    if (query.type) {
      where.push('t.type = :type');
      r.type = query.type;
    }
    if (query.assigneeId === 'none') where.push('t.assignee_id IS NULL');
    else if (query.assigneeId) {
      where.push('t.assignee_id = :assigneeId');
      r.assigneeId = query.assigneeId === 'me' ? callerId : query.assigneeId;
    }
    if (query.label) {
      where.push('t.labels @> ARRAY[:label]::text[]');
      r.label = query.label;
    }
    if (query.sprintId === 'none') where.push('t.sprint_id IS NULL');
    else if (query.sprintId) {
      where.push('t.sprint_id = :sprintId');
      r.sprintId = query.sprintId;
    }
    if (query.parentId === 'none') where.push('t.parent_id IS NULL');
    else if (query.parentId) {
      where.push('t.parent_id = :parentId');
      r.parentId = query.parentId;
    }
    if (query.q) {
      where.push(`t.search @@ websearch_to_tsquery('english', :q)`);
      r.q = query.q;
    }
    if (query.dueBefore) {
      where.push('t.due_date < :dueBefore');
      r.dueBefore = query.dueBefore;
    }
    if (query.dueAfter) {
      where.push('t.due_date > :dueAfter');
      r.dueAfter = query.dueAfter;
    }
    if (query.updatedSince) {
      where.push('t.updated_at >= :updatedSince');
      r.updatedSince = query.updatedSince;
    }
    const desc = query.sort.startsWith('-');
    const sortName = desc ? query.sort.slice(1) : query.sort;
    const sort = SORTS[sortName]!;
    if (query.cursor) {
      const cursor = decodeCursor(query.cursor, listCursor);
      if (cursor.s !== query.sort)
        throw errors.validation([{ path: 'query.cursor', message: 'The cursor belongs to another sort' }]);
      where.push(`(${sort.expr}, t.id) ${desc ? '<' : '>'} (:cv::${sort.cast}, :cid)`);
      r.cv = cursor.v;
      r.cid = cursor.id;
    }
    const dir = desc ? 'DESC' : 'ASC';
    return { where, replacements: r, order: `${sort.expr} ${dir}, t.id ${dir}`, sortExpr: sort.expr };
  }

  private async page(
    scope: string,
    scopeReplacements: Record<string, unknown>,
    query: TaskListQuery,
    callerId: string,
  ) {
    const f = this.filters(query, callerId);
    const rows = await this.sequelize.query<TaskRow & { sortValue: string }>(
      `SELECT ${TASK_COLUMNS}, (${f.sortExpr})::text AS "sortValue" FROM tasks t
        WHERE ${scope} AND ${f.where.join(' AND ')}
        ORDER BY ${f.order} LIMIT :limit`,
      {
        replacements: { ...scopeReplacements, ...f.replacements, limit: query.limit + 1 },
        type: QueryTypes.SELECT,
      },
    );
    return pageOf(rows, query.limit, toTaskView, (row) => ({ s: query.sort, v: row.sortValue, id: row.id }));
  }

  async list(caller: Caller, projectId: string, query: TaskListQuery) {
    await this.access.projectForRead(projectId, caller);
    return this.page('t.project_id = :projectId', { projectId }, query, caller.id);
  }

  /** Across the projects of an org the caller can see. */
  async listAcross(caller: Caller, query: CrossTaskListQuery) {
    const org = await this.access.org(query.orgId, caller);
    const projects = await this.sequelize.query<ProjectRow>(
      `SELECT ${PROJECT_COLUMNS} FROM projects p WHERE p.org_id = :orgId AND p.deleted_at IS NULL`,
      { replacements: { orgId: org.orgId }, type: QueryTypes.SELECT },
    );
    const visible = await this.access.visible(projects, org, caller.id);
    if (visible.length === 0) return { items: [], nextCursor: null };
    return this.page(
      't.project_id IN (:projectIds)',
      { projectIds: visible.map((v) => v.project.id) },
      query,
      caller.id,
    );
  }

  /** Found by key first; access is then decided on its project (org membership included), as `get` does. */
  async lookup(caller: Caller, orgId: string, key: string): Promise<TaskView> {
    const [task] = await this.sequelize.query<TaskRow>(
      // Keys are unique among live projects only: a deleted project's key may have been reused.
      `SELECT ${TASK_COLUMNS} FROM tasks t JOIN projects p ON p.id = t.project_id AND p.deleted_at IS NULL
        WHERE t.org_id = :orgId AND t.key = :key AND t.deleted_at IS NULL`,
      { replacements: { orgId, key }, type: QueryTypes.SELECT },
    );
    if (!task) throw errors.notFound('task');
    await this.access.projectForRead(task.projectId, caller).catch(asTaskNotFound);
    return toTaskView(task);
  }

  async subtasks(caller: Caller, id: string) {
    const { task } = await this.taskContext(id, caller);
    const rows = await this.sequelize.query<TaskRow>(
      `SELECT ${TASK_COLUMNS} FROM tasks t WHERE t.parent_id = :id AND t.deleted_at IS NULL ORDER BY t.number`,
      { replacements: { id: task.id }, type: QueryTypes.SELECT },
    );
    return { items: rows.map(toTaskView), nextCursor: null };
  }

  private async activityPage(
    column: 'task_id' | 'project_id',
    id: string,
    page: { limit: number; cursor?: string },
  ) {
    const after = page.cursor ? decodeCursor(page.cursor, activityCursor).id : null;
    const rows = await this.sequelize.query<{
      id: string;
      taskId: string;
      at: Date;
      actorId: string;
      field: string;
      from: unknown;
      to: unknown;
    }>(
      `SELECT id::text AS id, task_id AS "taskId", at, actor_id AS "actorId", field, "from", "to"
         FROM task_history WHERE ${column} = :id ${after ? 'AND id > :after::bigint' : ''}
        ORDER BY id LIMIT :limit`,
      { replacements: { id, after, limit: page.limit + 1 }, type: QueryTypes.SELECT },
    );
    return pageOf(
      rows,
      page.limit,
      (r) => ({ ...r, at: r.at.toISOString() }),
      (r) => ({ id: r.id }),
    );
  }

  async activity(caller: Caller, id: string, page: { limit: number; cursor?: string }) {
    await this.taskContext(id, caller);
    return this.activityPage('task_id', id, page);
  }

  async projectActivity(caller: Caller, projectId: string, page: { limit: number; cursor?: string }) {
    await this.access.projectForRead(projectId, caller);
    return this.activityPage('project_id', projectId, page);
  }
}
