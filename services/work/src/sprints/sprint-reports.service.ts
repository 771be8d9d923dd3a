// Sprint reports: a sprint's scope change and burndown, a project's velocity and open workload.
import { QueryTypes, type Sequelize } from 'sequelize';
import type { AccessService, Caller, ProjectContext } from '../access/access.service.ts';
import { burndown, eventsOfTask, scopeChange, type HistoryEvent } from './burndown.ts';
import { donePoints, sprintContext, type SprintRow } from './sprint-rows.ts';
import { OPEN_STATUSES, type SprintReport, type Velocity, type Workload } from './sprints.schemas.ts';

/** A sprint's report, a project's velocity and workload (product.md §8, api.md §4). */
export class SprintReportService {
  private readonly sequelize: Sequelize;
  private readonly access: AccessService;

  constructor(deps: { sequelize: Sequelize; access: AccessService }) {
    this.sequelize = deps.sequelize;
    this.access = deps.access;
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
    const { sprint } = await sprintContext(this.sequelize, this.access, id, caller);
    const committedPoints = sprint.committedPoints ?? 0;
    const events = await this.events(sprint);
    let completedPoints = sprint.completedPoints ?? 0;
    if (sprint.state === 'ACTIVE') completedPoints = await donePoints(this.sequelize, sprint.id);
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
