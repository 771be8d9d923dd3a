// Task reads: one task, lists with filters and search, lookup by key, subtasks, activity (history).
import { z } from 'zod';
import { decodeCursor, errors, pageOf } from '@trellis/shared';
import type { AccessService, Caller } from '../access/access.service.ts';
import { PROJECT_COLUMNS, TASK_COLUMNS, type ProjectRow, type TaskRow } from '../models.ts';
import type { PreparedStatements } from '../prepared.ts';
import type { CrossTaskListQuery, TaskListQuery, TaskView } from './tasks.schemas.ts';
import { toTaskView } from './tasks.views.ts';

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

/** A project out of reach hides its tasks: the 404 names the task. */
const asTaskNotFound = (err: unknown): never => {
  throw err instanceof Error && 'status' in err && err.status === 404 ? errors.notFound('task') : err;
};

/** Tasks as read: one, lists, subtasks, their history (product.md §8, api.md §4). */
export class TaskQueryService {
  private readonly access: AccessService;
  private readonly statements: PreparedStatements;

  constructor(deps: { statements: PreparedStatements; access: AccessService }) {
    this.statements = deps.statements;
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

  async get(caller: Caller, id: string): Promise<TaskView> {
    const { task } = await this.readable(id, caller);
    return toTaskView(task);
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
