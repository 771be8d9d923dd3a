// Work's PostgreSQL store of the authorization projection: what shared's `membershipRules` decide,
// written inside the inbox transaction of the event. Every effect is an upsert or a delete, so
// replaying an event is harmless even outside the inbox.
import type { Sequelize, Transaction } from 'sequelize';
import type { MembershipStore, OrgRole, TeamRole } from '@trellis/shared';

export class PgMembershipStore implements MembershipStore {
  private readonly sequelize: Sequelize;
  private readonly transaction: Transaction;

  constructor(sequelize: Sequelize, transaction: Transaction) {
    this.sequelize = sequelize;
    this.transaction = transaction;
  }

  private run(sql: string, replacements: Record<string, unknown>) {
    return this.sequelize.query(sql, { replacements, transaction: this.transaction });
  }

  // governance.org

  orgUpserted(d: { orgId: string; ownerId: string }, restore: boolean) {
    return this.run(
      `INSERT INTO orgs (id, owner_id) VALUES (:orgId, :ownerId)
       ON CONFLICT (id) DO UPDATE SET owner_id = EXCLUDED.owner_id, updated_at = now()
         ${restore ? ', deleted_at = NULL' : ''}`,
      { orgId: d.orgId, ownerId: d.ownerId },
    );
  }

  orgDeleted(orgId: string) {
    return this.run(
      `INSERT INTO orgs (id, deleted_at) VALUES (:orgId, now())
       ON CONFLICT (id) DO UPDATE SET deleted_at = now(), updated_at = now()`,
      { orgId },
    );
  }

  orgSettingsChanged(d: { orgId: string; settings: Record<string, unknown> }) {
    return this.run(
      `INSERT INTO orgs (id, settings) VALUES (:orgId, :settings::jsonb)
       ON CONFLICT (id) DO UPDATE SET settings = EXCLUDED.settings, updated_at = now()`,
      { orgId: d.orgId, settings: JSON.stringify(d.settings) },
    );
  }

  // governance.membership

  orgMemberSet(d: { orgId: string; userId: string; role: OrgRole }) {
    return this.run(
      `INSERT INTO org_members (org_id, user_id, role) VALUES (:orgId, :userId, :role)
       ON CONFLICT (org_id, user_id) DO UPDATE SET role = EXCLUDED.role, updated_at = now()`,
      { orgId: d.orgId, userId: d.userId, role: d.role },
    );
  }

  orgOwnersDemoted(d: { orgId: string; userId: string; role: OrgRole }) {
    return this.run(
      `UPDATE org_members SET role = :role, updated_at = now()
        WHERE org_id = :orgId AND role = 'OWNER' AND user_id <> :userId`,
      { orgId: d.orgId, userId: d.userId, role: d.role },
    );
  }

  async orgMemberRemoved(d: { orgId: string; userId: string }) {
    const ids = { orgId: d.orgId, userId: d.userId };
    await this.run(`DELETE FROM org_members WHERE org_id = :orgId AND user_id = :userId`, ids);
    await this.run(`DELETE FROM team_members WHERE org_id = :orgId AND user_id = :userId`, ids);
  }

  // governance.team

  teamUpserted(d: { orgId: string; teamId: string }) {
    return this.run(
      `INSERT INTO teams (id, org_id) VALUES (:teamId, :orgId)
       ON CONFLICT (id) DO UPDATE SET updated_at = now()`,
      { orgId: d.orgId, teamId: d.teamId },
    );
  }

  teamDeleted(d: { orgId: string; teamId: string }) {
    return this.run(
      `INSERT INTO teams (id, org_id, deleted_at) VALUES (:teamId, :orgId, now())
       ON CONFLICT (id) DO UPDATE SET deleted_at = now(), updated_at = now()`,
      { orgId: d.orgId, teamId: d.teamId },
    );
  }

  teamSettingsChanged(d: { orgId: string; teamId: string; settings: Record<string, unknown> }) {
    return this.run(
      `INSERT INTO teams (id, org_id, settings) VALUES (:teamId, :orgId, :settings::jsonb)
       ON CONFLICT (id) DO UPDATE SET settings = EXCLUDED.settings, updated_at = now()`,
      { orgId: d.orgId, teamId: d.teamId, settings: JSON.stringify(d.settings) },
    );
  }

  teamMemberSet(d: { orgId: string; teamId: string; userId: string; role: TeamRole }) {
    return this.run(
      `INSERT INTO team_members (team_id, org_id, user_id, role) VALUES (:teamId, :orgId, :userId, :role)
       ON CONFLICT (team_id, user_id) DO UPDATE SET role = EXCLUDED.role, updated_at = now()`,
      { orgId: d.orgId, teamId: d.teamId, userId: d.userId, role: d.role },
    );
  }

  teamOwnersDemoted(d: { teamId: string; userId: string; role: TeamRole }) {
    return this.run(
      `UPDATE team_members SET role = :role, updated_at = now()
        WHERE team_id = :teamId AND role = 'OWNER' AND user_id <> :userId`,
      { teamId: d.teamId, userId: d.userId, role: d.role },
    );
  }

  teamMemberRemoved(d: { teamId: string; userId: string }) {
    return this.run(`DELETE FROM team_members WHERE team_id = :teamId AND user_id = :userId`, {
      teamId: d.teamId,
      userId: d.userId,
    });
  }

  // identity.user

  userUpserted(d: { userId: string; email: string; name: string }) {
    return this.run(
      `INSERT INTO users (id, email, name) VALUES (:userId, :email, :name)
       ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name, updated_at = now()
       WHERE users.deleted_at IS NULL`,
      { userId: d.userId, email: d.email, name: d.name },
    );
  }

  userDeleted(userId: string) {
    return this.run(
      `INSERT INTO users (id, email, name, deleted_at) VALUES (:userId, '', '', now())
       ON CONFLICT (id) DO UPDATE SET deleted_at = now(), updated_at = now()`,
      { userId },
    );
  }
}
