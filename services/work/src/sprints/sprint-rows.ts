// Sprint reads the sprint use cases share: the row, the caller's context on its project, its DONE points.
import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import { errors } from '@trellis/shared';
import type { AccessService, Caller } from '../access/access.service.ts';
import type { SprintState } from './sprints.schemas.ts';

export interface SprintRow {
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

export const SPRINT_COLUMNS = `s.id, s.org_id AS "orgId", s.project_id AS "projectId", s.name, s.goal,
  to_char(s.start_date, 'YYYY-MM-DD') AS "startDate", to_char(s.end_date, 'YYYY-MM-DD') AS "endDate", s.state,
  s.committed_points AS "committedPoints", s.committed_task_ids AS "committedTaskIds",
  s.completed_points AS "completedPoints", s.started_at AS "startedAt", s.completed_at AS "completedAt",
  s.created_at AS "createdAt", s.updated_at AS "updatedAt", s.version`;

export async function sprintRow(
  sequelize: Sequelize,
  id: string,
  transaction?: Transaction,
): Promise<SprintRow> {
  const [sprint] = await sequelize.query<SprintRow>(
    `SELECT ${SPRINT_COLUMNS} FROM sprints s WHERE s.id = :id ${transaction ? 'FOR UPDATE' : ''}`,
    { replacements: { id }, type: QueryTypes.SELECT, transaction },
  );
  if (!sprint) throw errors.notFound('sprint');
  return sprint;
}

/** The sprint and the caller's context on its project; 404 when either is out of reach. */
export async function sprintContext(
  sequelize: Sequelize,
  access: AccessService,
  id: string,
  caller: Caller,
  transaction?: Transaction,
) {
  const sprint = await sprintRow(sequelize, id, transaction);
  const context = await (
    transaction
      ? access.project(sprint.projectId, caller, { transaction })
      : access.projectForRead(sprint.projectId, caller)
  ).catch((err: unknown) => {
    throw err instanceof Error && 'status' in err && err.status === 404 ? errors.notFound('sprint') : err;
  });
  return { sprint, context };
}

/** Points of the sprint's live tasks that are DONE. */
export async function donePoints(
  sequelize: Sequelize,
  id: string,
  transaction?: Transaction,
): Promise<number> {
  const [done] = await sequelize.query<{ points: number }>(
    `SELECT coalesce(sum(estimate), 0)::int AS points FROM tasks
        WHERE sprint_id = :id AND deleted_at IS NULL AND status = 'DONE'`,
    { replacements: { id }, type: QueryTypes.SELECT, transaction },
  );
  return done?.points ?? 0;
}
