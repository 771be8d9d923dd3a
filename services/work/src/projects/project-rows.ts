// Project reads the project use cases share: the row reloaded inside a write, the caller's view after it.
import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import { errors } from '@trellis/shared';
import { type AccessService, type Caller, type ProjectContext } from '../access/access.service.ts';
import { PROJECT_COLUMNS, type ProjectRow } from '../models.ts';
import type { ProjectView } from './projects.schemas.ts';
import { toProjectView } from './projects.views.ts';

export async function reloadProject(
  sequelize: Sequelize,
  id: string,
  transaction: Transaction,
): Promise<ProjectRow> {
  const [row] = await sequelize.query<ProjectRow>(
    `SELECT ${PROJECT_COLUMNS} FROM projects p WHERE p.id = :id`,
    { replacements: { id }, type: QueryTypes.SELECT, transaction },
  );
  if (!row) throw errors.notFound('project');
  return row;
}

/** The caller's role after a change (team or visibility may have moved it). */
export async function viewFor(
  access: AccessService,
  caller: Caller,
  row: ProjectRow,
  before: ProjectContext,
): Promise<ProjectView> {
  const { effective } = await access.contextFor(
    row,
    before.org,
    caller.id,
    before.memberships.projectRole ?? null,
  );
  return toProjectView(row, effective.role ?? before.role);
}
