import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import type { Models } from '../models.ts';

/**
 * Identity's projection of governance's orgs and memberships: enough to refuse deleting an org
 * owner's account and to decide who may see whose profile. Fed only by events.
 */
export class OrgDirectory {
  private readonly sequelize: Sequelize;
  private readonly models: Models;

  constructor(deps: { sequelize: Sequelize; models: Models }) {
    this.sequelize = deps.sequelize;
    this.models = deps.models;
  }

  async ownsLiveOrg(userId: string, transaction?: Transaction): Promise<boolean> {
    const owned = await this.models.OrgProjection.count({
      where: { ownerId: userId, deleted: false },
      transaction,
    });
    return owned > 0;
  }

  /** True when both are members of one org that is not known to be deleted. */
  async shareAnOrg(userId: string, otherId: string): Promise<boolean> {
    const rows = await this.sequelize.query(
      `SELECT 1 FROM org_members mine
         JOIN org_members theirs ON theirs.org_id = mine.org_id AND theirs.user_id = :otherId
         LEFT JOIN org_projection org ON org.org_id = mine.org_id
        WHERE mine.user_id = :userId AND (org.deleted IS NULL OR NOT org.deleted)
        LIMIT 1`,
      { replacements: { userId, otherId }, type: QueryTypes.SELECT },
    );
    return rows.length > 0;
  }

  /** org.created / org.restored: the org exists (again) with this owner, who is a member. */
  async orgLive(transaction: Transaction, orgId: string, ownerId: string): Promise<void> {
    await this.models.OrgProjection.upsert({ orgId, ownerId, deleted: false }, { transaction });
    await this.addMember(transaction, orgId, ownerId);
  }

  async ownershipTransferred(transaction: Transaction, orgId: string, toUserId: string): Promise<void> {
    const org = await this.models.OrgProjection.findByPk(orgId, {
      transaction,
      lock: transaction.LOCK.UPDATE,
    });
    if (org) await org.update({ ownerId: toUserId }, { transaction });
    else
      await this.models.OrgProjection.create({ orgId, ownerId: toUserId, deleted: false }, { transaction });
    await this.addMember(transaction, orgId, toUserId);
  }

  async orgDeleted(transaction: Transaction, orgId: string): Promise<void> {
    await this.models.OrgProjection.update({ deleted: true }, { where: { orgId }, transaction });
  }

  async addMember(transaction: Transaction, orgId: string, userId: string): Promise<void> {
    await this.models.OrgMember.findOrCreate({ where: { orgId, userId }, transaction });
  }

  async removeMember(transaction: Transaction, orgId: string, userId: string): Promise<void> {
    await this.models.OrgMember.destroy({ where: { orgId, userId }, transaction });
  }
}
