import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import type { AccessMemo } from './access-memo.ts';
import type { MembershipSnapshot } from './governance-client.ts';
import { PgMembershipStore } from './pg-membership.store.ts';

/**
 * The authorization projection: governance's orgs, org and team memberships, teams (with their
 * settings) and identity's users, written by events through shared's `membershipRules` into a
 * `PgMembershipStore`, and by the membership fallback (`storeSnapshot`).
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

  /** The projection's store inside one transaction (an event's inbox transaction), for the shared rules. */
  within(transaction: Transaction): PgMembershipStore {
    return new PgMembershipStore(this.sequelize, transaction);
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
