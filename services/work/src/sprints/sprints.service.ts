import { randomUUID } from 'node:crypto';
import { QueryTypes, UniqueConstraintError, type Sequelize, type Transaction } from 'sequelize';
import { errors, workEvents, type PgOutbox } from '@trellis/shared';
import type { AccessService, Caller, ProjectContext } from '../access/access.service.ts';
import { workEvent } from '../events/outgoing.ts';
import { TASK_COLUMNS, type TaskRow } from '../models.ts';
import { taskData } from '../tasks/tasks.views.ts';
import { burndown, eventsOfTask, scopeChange, type HistoryEvent } from './burndown.ts';
import {
  OPEN_STATUSES,
  sprintSpanProblem,
  type CompleteSprintBody,
  type CreateSprintBody,
  type SprintReport,
  type SprintState,
  type SprintView,
  type UpdateSprintBody,
  type Velocity,
  type Workload,
} from './sprints.schemas.ts';

interface SprintRow {
  id: string;
  orgId: string;
  projectId: string;
  name: string;
  goal: string | null;
  startDate: string;
  endDate: string;
  state: SprintState;
  committedPoints: number | null;
  committedTaskIds: string[] | null;
  completedPoints: number | null;
  startedAt: Date | null;
  completedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  version: number;
}

const SPRINT_COLUMNS = `s.id, s.org_id AS "orgId", s.project_id AS "projectId", s.name, s.goal,
  to_char(s.start_date, 'YYYY-MM-DD') AS "startDate", to_char(s.end_date, 'YYYY-MM-DD') AS "endDate", s.state,
  s.committed_points AS "committedPoints", s.committed_task_ids AS "committedTaskIds",
  s.completed_points AS "completedPoints", s.started_at AS "startedAt", s.completed_at AS "completedAt",
  s.created_at AS "createdAt", s.updated_at AS "updatedAt", s.version`;

export function toSprintView(s: SprintRow): SprintView {
  return {
    id: s.id,
    orgId: s.orgId,
    projectId: s.projectId,
    name: s.name,
    goal: s.goal,
    startDate: s.startDate,
    endDate: s.endDate,
    state: s.state,
    committedPoints: s.committedPoints,
    completedPoints: s.completedPoints,
    startedAt: s.startedAt ? s.startedAt.toISOString() : null,
    completedAt: s.completedAt ? s.completedAt.toISOString() : null,
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
    version: s.version,
  };
}

const sprintData = (s: SprintRow) => ({
  sprintId: s.id,
  orgId: s.orgId,
  projectId: s.projectId,
  name: s.name,
  goal: s.goal,
  startDate: s.startDate,
  endDate: s.endDate,
  state: s.state,
});

const FIELD_COLUMN = { name: 'name', goal: 'goal', startDate: 'start_date', endDate: 'end_date' } as const;

/** Sprints, their report, velocity and workload (product.md §8, api.md §4). */
export class SprintService {
  private readonly sequelize: Sequelize;
  private readonly outbox: PgOutbox;
  private readonly access: AccessService;

  constructor(deps: { sequelize: Sequelize; outbox: PgOutbox; access: AccessService }) {
    this.sequelize = deps.sequelize;
    this.outbox = deps.outbox;
    this.access = deps.access;
  }

  private async row(id: string, transaction?: Transaction): Promise<SprintRow> {
    const [sprint] = await this.sequelize.query<SprintRow>(
      `SELECT ${SPRINT_COLUMNS} FROM sprints s WHERE s.id = :id ${transaction ? 'FOR UPDATE' : ''}`,
      { replacements: { id }, type: QueryTypes.SELECT, transaction },
    );
    if (!sprint) throw errors.notFound('sprint');
    return sprint;
  }

  /** The sprint and the caller's context on its project; 404 when either is out of reach. */
  private async sprintContext(id: string, caller: Caller, transaction?: Transaction) {
    const sprint = await this.row(id, transaction);
    const context = await (
      transaction
        ? this.access.project(sprint.projectId, caller, { transaction })
        : this.access.projectForRead(sprint.projectId, caller)
    ).catch((err: unknown) => {
      throw err instanceof Error && 'status' in err && err.status === 404 ? errors.notFound('sprint') : err;
    });
    return { sprint, context };
  }

  private async manage(id: string, caller: Caller, transaction: Transaction) {
    const found = await this.sprintContext(id, caller, transaction);
    this.access.authorize(found.context, 'sprint.manage');
    return found;
  }

  private async publish(
    transaction: Transaction,
    caller: Caller,
    definition: Parameters<typeof workEvent>[0],
    sprint: { id: string; orgId: string },
    data: Record<string, unknown>,
  ) {
    await this.outbox.add(
      transaction,
      workEvent(definition, { orgId: sprint.orgId, actorId: caller.id, subjectId: sprint.id, data }),
    );
  }

  /**
   * Moves the sprint's tasks matching `where` to `to` (a sprint or the backlog), each with a
   * `sprintId` history entry, a version bump and a `task.updated` (`changes: {sprintId}`), as if
   * each had been PATCHed; returns their ids. A soft-deleted task is moved too (no dangling
   * sprint), but publishes nothing: consumers already dropped it on `task.deleted`, and
   * `task.restored` carries its state should it come back.
   */
  private async moveTasks(
    transaction: Transaction,
    caller: Caller,
    from: string,
    to: string | null,
    where = 'TRUE',
  ): Promise<string[]> {
    const rows = await this.sequelize.query<{ id: string }>(
      `WITH moved AS (
         UPDATE tasks SET sprint_id = :to, version = version + 1, updated_at = now()
          WHERE sprint_id = :from AND ${where} RETURNING id, project_id)
       INSERT INTO task_history (task_id, project_id, actor_id, field, "from", "to")
       SELECT id, project_id, :actorId, 'sprintId', CAST(:fromJson AS jsonb), CAST(:toJson AS jsonb)
         FROM moved RETURNING task_id AS id`,
      {
        replacements: {
          from,
          to,
          actorId: caller.id,
          fromJson: JSON.stringify(from),
          toJson: JSON.stringify(to),
        },
        type: QueryTypes.SELECT,
        transaction,
      },
    );
    const ids = rows.map((r) => r.id);
    if (ids.length === 0) return ids;
    const live = await this.sequelize.query<TaskRow>(
      `SELECT ${TASK_COLUMNS} FROM tasks t WHERE t.id IN (:ids) AND t.deleted_at IS NULL ORDER BY t.number`,
      { replacements: { ids }, type: QueryTypes.SELECT, transaction },
    );
    await this.outbox.add(
      transaction,
      live.map((task) =>
        workEvent(workEvents.taskUpdated, {
          orgId: task.orgId,
          actorId: caller.id,
          subjectId: task.id,
          data: { ...taskData(task), changes: { sprintId: { from, to } } },
        }),
      ),
    );
    return ids;
  }

  async create(caller: Caller, projectId: string, body: CreateSprintBody): Promise<SprintView> {
    return this.sequelize.transaction(async (transaction) => {
      const context = await this.access.project(projectId, caller, { transaction });
      this.access.authorize(context, 'sprint.manage');
      const id = randomUUID();
      await this.sequelize.query(
        `INSERT INTO sprints (id, org_id, project_id, name, goal, start_date, end_date, state)
         VALUES (:id, :orgId, :projectId, :name, :goal, :startDate, :endDate, 'PLANNED')`,
        {
          replacements: {
            id,
            orgId: context.project.orgId,
            projectId,
            name: body.name,
            goal: body.goal ?? null,
            startDate: body.startDate,
            endDate: body.endDate,
          },
          transaction,
        },
      );
      const sprint = await this.row(id, transaction);
      await this.publish(transaction, caller, workEvents.sprintCreated, sprint, sprintData(sprint));
      return toSprintView(sprint);
    });
  }

  async list(caller: Caller, projectId: string, state?: SprintState) {
    await this.access.projectForRead(projectId, caller);
    const rows = await this.sequelize.query<SprintRow>(
      `SELECT ${SPRINT_COLUMNS} FROM sprints s WHERE s.project_id = :projectId
         ${state ? 'AND s.state = :state' : ''} ORDER BY s.start_date, s.created_at, s.id`,
      { replacements: { projectId, state: state ?? null }, type: QueryTypes.SELECT },
    );
    return { items: rows.map(toSprintView), nextCursor: null };
  }

  async get(caller: Caller, id: string): Promise<SprintView> {
    return toSprintView((await this.sprintContext(id, caller)).sprint);
  }

  async update(caller: Caller, id: string, body: UpdateSprintBody): Promise<SprintView> {
    return this.sequelize.transaction(async (transaction) => {
      const { sprint } = await this.manage(id, caller, transaction);
      if (sprint.state !== 'PLANNED') throw errors.conflict('Only a PLANNED sprint can be edited.');
      const startDate = body.startDate ?? sprint.startDate;
      const endDate = body.endDate ?? sprint.endDate;
      const spanProblem = sprintSpanProblem(startDate, endDate);
      if (spanProblem) throw errors.validation([{ path: 'endDate', message: spanProblem }], 422);
      const sets: string[] = [];
      const replacements: Record<string, unknown> = { id };
      for (const [field, column] of Object.entries(FIELD_COLUMN)) {
        const value = (body as Record<string, unknown>)[field];
        if (value === undefined) continue;
        sets.push(`${column} = :${field}`);
        replacements[field] = value;
      }
      await this.sequelize.query(
        `UPDATE sprints SET ${sets.join(', ')}, version = version + 1, updated_at = now() WHERE id = :id`,
        { replacements, transaction },
      );
      const updated = await this.row(id, transaction);
      await this.publish(transaction, caller, workEvents.sprintUpdated, updated, sprintData(updated));
      return toSprintView(updated);
    });
  }

  /** Only a PLANNED sprint; its tasks go back to the backlog. */
  async remove(caller: Caller, id: string): Promise<void> {
    await this.sequelize.transaction(async (transaction) => {
      const { sprint } = await this.manage(id, caller, transaction);
      if (sprint.state !== 'PLANNED') throw errors.conflict('Only a PLANNED sprint can be deleted.');
      const movedTaskIds = await this.moveTasks(transaction, caller, id, null);
      await this.sequelize.query(`DELETE FROM sprints WHERE id = :id`, { replacements: { id }, transaction });
      await this.publish(transaction, caller, workEvents.sprintDeleted, sprint, {
        sprintId: id,
        orgId: sprint.orgId,
        projectId: sprint.projectId,
        movedTaskIds,
      });
    });
  }

  /** PLANNED → ACTIVE; the scope at start (points and task ids) is frozen on the sprint. */
  async start(caller: Caller, id: string): Promise<SprintView> {
    try {
      return await this.sequelize.transaction(async (transaction) => {
        const { sprint } = await this.manage(id, caller, transaction);
        if (sprint.state !== 'PLANNED') throw errors.conflict(`The sprint is ${sprint.state}, not PLANNED.`);
        const tasks = await this.sequelize.query<{ id: string; estimate: number | null }>(
          `SELECT id, estimate FROM tasks WHERE sprint_id = :id AND deleted_at IS NULL ORDER BY number`,
          { replacements: { id }, type: QueryTypes.SELECT, transaction },
        );
        const committedPoints = tasks.reduce((sum, t) => sum + (t.estimate ?? 0), 0);
        const taskIds = tasks.map((t) => t.id);
        await this.sequelize.query(
          `UPDATE sprints SET state = 'ACTIVE', started_at = now(), committed_points = :committedPoints,
                  committed_task_ids = CAST(:taskIds AS uuid[]), version = version + 1, updated_at = now()
            WHERE id = :id`,
          { replacements: { id, committedPoints, taskIds: `{${taskIds.join(',')}}` }, transaction },
        );
        const started = await this.row(id, transaction);
        await this.publish(transaction, caller, workEvents.sprintStarted, started, {
          ...sprintData(started),
          committedPoints,
          taskIds,
        });
        return toSprintView(started);
      });
    } catch (err) {
      if (err instanceof UniqueConstraintError)
        throw errors.conflict('The project already has an ACTIVE sprint.');
      throw err;
    }
  }

  /** ACTIVE → COMPLETED; open tasks (not DONE) go to another PLANNED sprint of the project or the backlog. */
  async complete(caller: Caller, id: string, body: CompleteSprintBody): Promise<SprintView> {
    return this.sequelize.transaction(async (transaction) => {
      const { sprint } = await this.manage(id, caller, transaction);
      if (sprint.state !== 'ACTIVE') throw errors.conflict(`The sprint is ${sprint.state}, not ACTIVE.`);
      const target = body.moveOpenTasksTo;
      if (target !== null) {
        const [next] = await this.sequelize.query<{ state: string }>(
          `SELECT state FROM sprints WHERE id = :target AND project_id = :projectId FOR SHARE`,
          { replacements: { target, projectId: sprint.projectId }, type: QueryTypes.SELECT, transaction },
        );
        if (!next || next.state !== 'PLANNED' || target === id)
          throw errors.validation(
            [{ path: 'moveOpenTasksTo', message: 'Not a PLANNED sprint of this project' }],
            422,
          );
      }
      const completedPoints = await this.donePoints(id, transaction);
      const movedTaskIds = await this.moveTasks(
        transaction,
        caller,
        id,
        target,
        `deleted_at IS NULL AND status <> 'DONE'`,
      );
      await this.sequelize.query(
        `UPDATE sprints SET state = 'COMPLETED', completed_at = now(), completed_points = :completedPoints,
                version = version + 1, updated_at = now() WHERE id = :id`,
        { replacements: { id, completedPoints }, transaction },
      );
      const completed = await this.row(id, transaction);
      await this.publish(transaction, caller, workEvents.sprintCompleted, completed, {
        ...sprintData(completed),
        committedPoints: completed.committedPoints ?? 0,
        completedPoints,
        movedTo: target,
        movedTaskIds,
      });
      return toSprintView(completed);
    });
  }

  /** The history of every task that was ever in the sprint, as burndown events. */
  private async events(sprint: SprintRow): Promise<HistoryEvent[]> {
    const tasks = await this.sequelize.query<{
      id: string;
      createdAt: Date;
      deletedAt: Date | null;
      sprintId: string | null;
      status: string;
      estimate: number | null;
    }>(
      `SELECT t.id, t.created_at AS "createdAt", t.deleted_at AS "deletedAt", t.sprint_id AS "sprintId",
              t.status, t.estimate
         FROM tasks t
        WHERE t.project_id = :projectId
          AND (t.sprint_id = :id OR EXISTS (
                SELECT 1 FROM task_history h WHERE h.task_id = t.id AND h.field = 'sprintId'
                   AND (h."from" = to_jsonb(CAST(:id AS text)) OR h."to" = to_jsonb(CAST(:id AS text)))))`,
      { replacements: { id: sprint.id, projectId: sprint.projectId }, type: QueryTypes.SELECT },
    );
    if (tasks.length === 0) return [];
    const rows = await this.sequelize.query<{
      taskId: string;
      at: Date;
      field: string;
      from: unknown;
      to: unknown;
    }>(
      `SELECT task_id AS "taskId", at, field, "from", "to" FROM task_history
        WHERE task_id IN (:ids) AND field IN ('created', 'sprintId', 'status', 'estimate', 'deleted')
        ORDER BY id`,
      { replacements: { ids: tasks.map((t) => t.id) }, type: QueryTypes.SELECT },
    );
    return tasks.flatMap((t) =>
      eventsOfTask(
        {
          id: t.id,
          createdAt: t.createdAt,
          deletedAt: t.deletedAt,
          current: { sprintId: t.sprintId, status: t.status, estimate: t.estimate },
        },
        rows.filter((r) => r.taskId === t.id),
      ),
    );
  }

  async report(caller: Caller, id: string, now = new Date()): Promise<SprintReport> {
    const { sprint } = await this.sprintContext(id, caller);
    const committedPoints = sprint.committedPoints ?? 0;
    const events = await this.events(sprint);
    let completedPoints = sprint.completedPoints ?? 0;
    if (sprint.state === 'ACTIVE') completedPoints = await this.donePoints(sprint.id);
    const scope = sprint.startedAt
      ? scopeChange(events, sprint.id, sprint.startedAt, sprint.completedAt)
      : { addedPoints: 0, removedPoints: 0 };
    return {
      committedPoints,
      completedPoints,
      ...scope,
      burndown: burndown({
        events,
        sprintId: sprint.id,
        startDate: sprint.startDate,
        endDate: sprint.endDate,
        today: now.toISOString().slice(0, 10),
        committedPoints,
        frozenAt: sprint.completedAt,
      }),
    };
  }

  /** Points of the sprint's live tasks that are DONE. */
  private async donePoints(id: string, transaction?: Transaction): Promise<number> {
    const [done] = await this.sequelize.query<{ points: number }>(
      `SELECT coalesce(sum(estimate), 0)::int AS points FROM tasks
        WHERE sprint_id = :id AND deleted_at IS NULL AND status = 'DONE'`,
      { replacements: { id }, type: QueryTypes.SELECT, transaction },
    );
    return done?.points ?? 0;
  }

  async velocity(caller: Caller, projectId: string, last: number): Promise<Velocity> {
    await this.access.projectForRead(projectId, caller);
    const rows = await this.sequelize.query<{
      id: string;
      name: string;
      committedPoints: number;
      completedPoints: number;
    }>(
      `SELECT id, name, coalesce(committed_points, 0) AS "committedPoints",
              coalesce(completed_points, 0) AS "completedPoints"
         FROM sprints WHERE project_id = :projectId AND state = 'COMPLETED'
        ORDER BY completed_at DESC, id DESC LIMIT :last`,
      { replacements: { projectId, last }, type: QueryTypes.SELECT },
    );
    const total = rows.reduce((sum, r) => sum + r.completedPoints, 0);
    return {
      sprints: rows,
      averageCompleted: rows.length === 0 ? 0 : Math.round((total / rows.length) * 100) / 100,
    };
  }

  async workload(caller: Caller, projectId: string): Promise<Workload> {
    const context: ProjectContext = await this.access.projectForRead(projectId, caller);
    const rows = await this.sequelize.query<{
      assigneeId: string | null;
      status: (typeof OPEN_STATUSES)[number];
      n: number;
      points: number;
    }>(
      `SELECT assignee_id AS "assigneeId", status, count(*)::int AS n, coalesce(sum(estimate), 0)::int AS points
         FROM tasks WHERE project_id = :projectId AND deleted_at IS NULL AND status <> 'DONE'
        GROUP BY assignee_id, status`,
      { replacements: { projectId: context.project.id }, type: QueryTypes.SELECT },
    );
    const byAssignee = new Map<string | null, Workload[number]>();
    for (const r of rows) {
      let entry = byAssignee.get(r.assigneeId);
      if (!entry) {
        entry = {
          assigneeId: r.assigneeId,
          openTasks: 0,
          openPoints: 0,
          byStatus: Object.fromEntries(OPEN_STATUSES.map((s) => [s, 0])) as Workload[number]['byStatus'],
        };
        byAssignee.set(r.assigneeId, entry);
      }
      entry.openTasks += r.n;
      entry.openPoints += r.points;
      entry.byStatus[r.status] += r.n;
    }
    // Most loaded first; the unassigned pile last.
    return [...byAssignee.values()].sort(
      (a, b) =>
        Number(a.assigneeId === null) - Number(b.assigneeId === null) ||
        b.openPoints - a.openPoints ||
        b.openTasks - a.openTasks ||
        String(a.assigneeId).localeCompare(String(b.assigneeId)),
    );
  }
}
