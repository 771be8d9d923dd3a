// Sprint lifecycle: create, list, read, edit, delete, start, complete (moved tasks get history and events).
import { randomUUID } from 'node:crypto';
import { QueryTypes, UniqueConstraintError, type Sequelize, type Transaction } from 'sequelize';
import { errors, workEvents, type PgOutbox } from '@trellis/shared';
import type { AccessService, Caller } from '../access/access.service.ts';
import { workEvent } from '../events/outgoing.ts';
import { TASK_COLUMNS, type TaskRow } from '../models.ts';
import { taskData } from '../tasks/tasks.views.ts';
import { SPRINT_COLUMNS, donePoints, sprintContext, sprintRow, type SprintRow } from './sprint-rows.ts';
import {
  sprintSpanProblem,
  type CompleteSprintBody,
  type CreateSprintBody,
  type SprintState,
  type SprintView,
  type UpdateSprintBody,
} from './sprints.schemas.ts';

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

/** Sprints: plan, edit, start, complete, delete (product.md §8, api.md §4). */
export class SprintService {
  private readonly sequelize: Sequelize;
  private readonly outbox: PgOutbox;
  private readonly access: AccessService;

  constructor(deps: { sequelize: Sequelize; outbox: PgOutbox; access: AccessService }) {
    this.sequelize = deps.sequelize;
    this.outbox = deps.outbox;
    this.access = deps.access;
  }

  private async manage(id: string, caller: Caller, transaction: Transaction) {
    const found = await sprintContext(this.sequelize, this.access, id, caller, transaction);
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
      checkSpan(body.startDate, body.endDate);
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
      const sprint = await sprintRow(this.sequelize, id, transaction);
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
    return toSprintView((await sprintContext(this.sequelize, this.access, id, caller)).sprint);
  }

  async update(caller: Caller, id: string, body: UpdateSprintBody): Promise<SprintView> {
    return this.sequelize.transaction(async (transaction) => {
      const { sprint } = await this.manage(id, caller, transaction);
      if (sprint.state !== 'PLANNED') throw errors.conflict('Only a PLANNED sprint can be edited.');
      const startDate = body.startDate ?? sprint.startDate;
      const endDate = body.endDate ?? sprint.endDate;
      checkSpan(startDate, endDate);
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
      const updated = await sprintRow(this.sequelize, id, transaction);
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
        const started = await sprintRow(this.sequelize, id, transaction);
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
      const completedPoints = await donePoints(this.sequelize, id, transaction);
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
      const completed = await sprintRow(this.sequelize, id, transaction);
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
}

/** A sprint's dates are a rule on two fields, the document cannot state it: 422 when broken. */
function checkSpan(startDate: string, endDate: string): void {
  const problem = sprintSpanProblem(startDate, endDate);
  if (problem) throw errors.validation([{ path: 'endDate', message: problem }], 422);
}
