// Governance's approval decisions on project creations: a waiting project is activated or discarded.
import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import { z } from 'zod';
import { workEvents, type PgOutbox } from '@trellis/shared';
import { workEvent } from '../events/outgoing.ts';
import { PROJECT_COLUMNS, type ProjectRow } from '../models.ts';
import { reloadProject } from './project-rows.ts';
import { projectData } from './projects.views.ts';

/** Projects waiting in PENDING_APPROVAL until governance decides (product.md §8). */
export class ProjectApprovalService {
  private readonly sequelize: Sequelize;
  private readonly outbox: PgOutbox;

  constructor(deps: { sequelize: Sequelize; outbox: PgOutbox }) {
    this.sequelize = deps.sequelize;
    this.outbox = deps.outbox;
  }

  /**
   * governance decided a `project.create` approval: APPROVED activates the waiting project,
   * REJECTED or FAILED discards it (soft delete). Anything not waiting any more is left alone.
   */
  async applyApproval(
    transaction: Transaction,
    d: { kind: string; decision: string; decidedBy: string; payload: Record<string, unknown> },
  ): Promise<void> {
    if (d.kind !== 'project.create') return;
    const projectId = z.uuid().safeParse(d.payload.projectId);
    if (!projectId.success) return;
    const [row] = await this.sequelize.query<ProjectRow>(
      `SELECT ${PROJECT_COLUMNS} FROM projects p
        WHERE p.id = :id AND p.status = 'PENDING_APPROVAL' AND p.deleted_at IS NULL FOR UPDATE`,
      { replacements: { id: projectId.data }, type: QueryTypes.SELECT, transaction },
    );
    if (!row) return;
    const meta = { orgId: row.orgId, actorId: d.decidedBy, subjectId: row.id };
    if (d.decision === 'APPROVED') {
      await this.sequelize.query(
        `UPDATE projects SET status = 'ACTIVE', version = version + 1, updated_at = now() WHERE id = :id`,
        { replacements: { id: row.id }, transaction },
      );
      const active = await reloadProject(this.sequelize, row.id, transaction);
      await this.outbox.add(
        transaction,
        workEvent(workEvents.projectUpdated, { ...meta, data: projectData(active) }),
      );
      return;
    }
    await this.sequelize.query(
      `UPDATE projects SET deleted_at = now(), version = version + 1, updated_at = now() WHERE id = :id`,
      { replacements: { id: row.id }, transaction },
    );
    await this.outbox.add(
      transaction,
      workEvent(workEvents.projectDeleted, { ...meta, data: { projectId: row.id, orgId: row.orgId } }),
    );
  }
}
