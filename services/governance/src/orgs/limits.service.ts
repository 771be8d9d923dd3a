import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import { assertWithinPlanLimit, errors, type PlanResource } from '@trellis/shared';
import type { Models } from '../models.ts';
import { orgSettingsOf } from './orgs.views.ts';

const COUNTS: Record<Exclude<PlanResource, 'projects'>, string> = {
  members: 'SELECT count(*)::int AS n FROM org_members WHERE org_id = :orgId',
  teams: 'SELECT count(*)::int AS n FROM teams WHERE org_id = :orgId AND deleted_at IS NULL',
};

/** The plan limits of product.md §3 for what governance owns (projects are counted by work). */
export class PlanLimits {
  private readonly sequelize: Sequelize;
  private readonly models: Models;

  constructor(deps: { sequelize: Sequelize; models: Models }) {
    this.sequelize = deps.sequelize;
    this.models = deps.models;
  }

  /**
   * 409 LIMIT_REACHED (naming the limit) when the org cannot take one more. Locks the org row, so
   * two concurrent additions in one org cannot both pass on the same count.
   */
  async assertWithinLimit(
    orgId: string,
    resource: 'members' | 'teams',
    transaction: Transaction,
  ): Promise<void> {
    const org = await this.models.Org.findByPk(orgId, { transaction, lock: transaction.LOCK.UPDATE });
    if (!org) throw errors.notFound('organization');
    const [row] = await this.sequelize.query<{ n: number }>(COUNTS[resource], {
      replacements: { orgId },
      type: QueryTypes.SELECT,
      transaction,
    });
    assertWithinPlanLimit(orgSettingsOf(org).plan, resource, row?.n ?? 0);
  }
}
