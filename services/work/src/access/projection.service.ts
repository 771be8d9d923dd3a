import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import { formerOwnerRole, isOwnerRole, type OrgRole, type TeamRole } from '@trellis/shared';
import type { AccessMemo } from './access-memo.ts';
import type { MembershipSnapshot } from './governance-client.ts';

/**
 * The authorization projection: governance's orgs, org and team memberships, teams (with their
 * settings) and identity's users, written only by events (and the membership fallback). Every
 * effect is an upsert or a delete, so replaying an event is harmless even outside the inbox.
 */
export class ProjectionService {
  private readonly sequelize: Sequelize;
  private readonly memo: AccessMemo;

  constructor(deps: { sequelize: Sequelize; memo: AccessMemo }) {
    this.sequelize = deps.sequelize;
    this.memo = deps.memo;
  }

  private run(transaction: Transaction, sql: string, replacements: Record<string, unknown>) {
    return this.sequelize.query(sql, { replacements, transaction });
  }

  // governance.org

  orgUpserted(transaction: Transaction, d: { orgId: string; ownerId: string }, restore = false) {
    return this.run(
      transaction,
      `INSERT INTO orgs (id, owner_id) VALUES (:orgId, :ownerId)
       ON CONFLICT (id) DO UPDATE SET owner_id = EXCLUDED.owner_id, updated_at = now()
         ${restore ? ', deleted_at = NULL' : ''}`,
      d,
    );
  }

  orgDeleted(transaction: Transaction, orgId: string) {
    return this.run(
      transaction,
      `INSERT INTO orgs (id, deleted_at) VALUES (:orgId, now())
       ON CONFLICT (id) DO UPDATE SET deleted_at = now(), updated_at = now()`,
      { orgId },
    );
  }

  orgSettingsChanged(transaction: Transaction, d: { orgId: string; settings: Record<string, unknown> }) {
    return this.run(
      transaction,
      `INSERT INTO orgs (id, settings) VALUES (:orgId, :settings::jsonb)
       ON CONFLICT (id) DO UPDATE SET settings = EXCLUDED.settings, updated_at = now()`,
      { orgId: d.orgId, settings: JSON.stringify(d.settings) },
    );
  }

  async orgOwnershipTransferred(
    transaction: Transaction,
    d: { orgId: string; fromUserId: string; toUserId: string },
  ) {
    await this.orgUpserted(transaction, { orgId: d.orgId, ownerId: d.toUserId });
    await this.orgMemberSet(transaction, { orgId: d.orgId, userId: d.fromUserId, role: 'ADMIN' });
    await this.orgMemberSet(transaction, { orgId: d.orgId, userId: d.toUserId, role: 'OWNER' });
  }

  // governance.membership

  async orgMemberSet(transaction: Transaction, d: { orgId: string; userId: string; role: OrgRole }) {
    // Single owner: a new OWNER demotes a stale one (ownership events may arrive in either order).
    if (isOwnerRole(d.role))
      await this.run(
        transaction,
        `UPDATE org_members SET role = :former, updated_at = now()
          WHERE org_id = :orgId AND role = 'OWNER' AND user_id <> :userId`,
        { ...d, former: formerOwnerRole('org') },
      );
    await this.run(
      transaction,
      `INSERT INTO org_members (org_id, user_id, role) VALUES (:orgId, :userId, :role)
       ON CONFLICT (org_id, user_id) DO UPDATE SET role = EXCLUDED.role, updated_at = now()`,
      d,
    );
  }

  async orgMemberRemoved(transaction: Transaction, d: { orgId: string; userId: string }) {
    await this.run(transaction, `DELETE FROM org_members WHERE org_id = :orgId AND user_id = :userId`, d);
    await this.run(transaction, `DELETE FROM team_members WHERE org_id = :orgId AND user_id = :userId`, d);
  }

  // governance.team

  teamUpserted(transaction: Transaction, d: { orgId: string; teamId: string }) {
    return this.run(
      transaction,
      `INSERT INTO teams (id, org_id) VALUES (:teamId, :orgId)
       ON CONFLICT (id) DO UPDATE SET updated_at = now()`,
      d,
    );
  }

  teamDeleted(transaction: Transaction, d: { orgId: string; teamId: string }) {
    return this.run(
      transaction,
      `INSERT INTO teams (id, org_id, deleted_at) VALUES (:teamId, :orgId, now())
       ON CONFLICT (id) DO UPDATE SET deleted_at = now(), updated_at = now()`,
      d,
    );
  }

  teamSettingsChanged(
    transaction: Transaction,
    d: { orgId: string; teamId: string; settings: Record<string, unknown> },
  ) {
    return this.run(
      transaction,
      `INSERT INTO teams (id, org_id, settings) VALUES (:teamId, :orgId, :settings::jsonb)
       ON CONFLICT (id) DO UPDATE SET settings = EXCLUDED.settings, updated_at = now()`,
      { ...d, settings: JSON.stringify(d.settings) },
    );
  }

  async teamMemberSet(
    transaction: Transaction,
    d: { orgId: string; teamId: string; userId: string; role: TeamRole },
  ) {
    if (isOwnerRole(d.role))
      await this.run(
        transaction,
        `UPDATE team_members SET role = :former, updated_at = now()
          WHERE team_id = :teamId AND role = 'OWNER' AND user_id <> :userId`,
        { ...d, former: formerOwnerRole('team') },
      );
    await this.run(
      transaction,
      `INSERT INTO team_members (team_id, org_id, user_id, role) VALUES (:teamId, :orgId, :userId, :role)
       ON CONFLICT (team_id, user_id) DO UPDATE SET role = EXCLUDED.role, updated_at = now()`,
      d,
    );
  }

  teamMemberRemoved(transaction: Transaction, d: { teamId: string; userId: string }) {
    return this.run(transaction, `DELETE FROM team_members WHERE team_id = :teamId AND user_id = :userId`, d);
  }

  async teamOwnershipTransferred(
    transaction: Transaction,
    d: { orgId: string; teamId: string; fromUserId: string; toUserId: string },
  ) {
    await this.teamMemberSet(transaction, { ...d, userId: d.toUserId, role: 'OWNER' });
    await this.run(
      transaction,
      `UPDATE team_members SET role = :former WHERE team_id = :teamId AND user_id = :userId`,
      { teamId: d.teamId, userId: d.fromUserId, former: formerOwnerRole('team') },
    );
  }

  // identity.user

  userUpserted(transaction: Transaction, d: { userId: string; email: string; name: string }) {
    return this.run(
      transaction,
      `INSERT INTO users (id, email, name) VALUES (:userId, :email, :name)
       ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name, updated_at = now()
       WHERE users.deleted_at IS NULL`,
      d,
    );
  }

  userDeleted(transaction: Transaction, userId: string) {
    return this.run(
      transaction,
      `INSERT INTO users (id, email, name, deleted_at) VALUES (:userId, '', '', now())
       ON CONFLICT (id) DO UPDATE SET deleted_at = now(), updated_at = now()`,
      { userId },
    );
  }

  /**
   * Stores governance's fallback answer. Rows events already wrote win (they are as fresh or
   * fresher); only what is missing is filled in.
   */
  async storeSnapshot(snapshot: MembershipSnapshot): Promise<void> {
    await this.memo.whileApplying(() => this.storeSnapshotRows(snapshot));
  }

  private async storeSnapshotRows(snapshot: MembershipSnapshot): Promise<void> {
    await this.sequelize.transaction(async (transaction) => {
      await this.run(
        transaction,
        `INSERT INTO orgs (id, settings) VALUES (:orgId, :settings::jsonb) ON CONFLICT (id) DO NOTHING`,
        { orgId: snapshot.orgId, settings: JSON.stringify(snapshot.orgSettings) },
      );
      await this.run(
        transaction,
        `INSERT INTO org_members (org_id, user_id, role) VALUES (:orgId, :userId, :role)
         ON CONFLICT DO NOTHING`,
        { orgId: snapshot.orgId, userId: snapshot.userId, role: snapshot.role },
      );
      for (const team of snapshot.teams) {
        await this.run(
          transaction,
          `INSERT INTO teams (id, org_id, settings) VALUES (:teamId, :orgId, :settings::jsonb)
           ON CONFLICT (id) DO NOTHING`,
          {
            teamId: team.teamId,
            orgId: snapshot.orgId,
            settings: JSON.stringify(snapshot.teamSettings[team.teamId] ?? {}),
          },
        );
        await this.run(
          transaction,
          `INSERT INTO team_members (team_id, org_id, user_id, role) VALUES (:teamId, :orgId, :userId, :role)
           ON CONFLICT DO NOTHING`,
          { teamId: team.teamId, orgId: snapshot.orgId, userId: snapshot.userId, role: team.role },
        );
      }
    });
  }

  /** For tests and diagnostics: whether the projection holds a membership. */
  async hasOrgMember(orgId: string, userId: string): Promise<boolean> {
    const rows = await this.sequelize.query(
      `SELECT 1 FROM org_members WHERE org_id = :orgId AND user_id = :userId`,
      { replacements: { orgId, userId }, type: QueryTypes.SELECT },
    );
    return rows.length > 0;
  }
}
