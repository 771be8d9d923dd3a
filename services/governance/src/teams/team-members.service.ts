import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import {
  authorize,
  checkGrantedRole,
  checkRemoval,
  checkRoleChange,
  errors,
  governanceEvents,
  type Page,
  type PgOutbox,
  type TeamRole,
} from '@trellis/shared';
import type { AccessService, TeamContext } from '../access/access.service.ts';
import { governanceEvent } from '../events/outgoing.ts';
import { afterCursor, keysetPage } from '../keyset.ts';
import type { Models } from '../models.ts';
import { orgSettingsOf } from '../orgs/orgs.views.ts';
import type { TeamMemberView } from './teams.schemas.ts';
import { teamSettingsOf } from './teams.views.ts';

interface TeamMemberRow {
  id: string;
  at: string;
  role: TeamRole;
  joined_at: Date;
  name: string | null;
  email: string | null;
}

type TeamAction = 'member.add' | 'member.updateRole' | 'member.remove';

/**
 * Team memberships: existing org members are added directly (no invitations for teams). Every
 * method re-reads and re-checks inside its own transaction, like the org membership use cases.
 */
export class TeamMemberService {
  private readonly sequelize: Sequelize;
  private readonly models: Models;
  private readonly outbox: PgOutbox;
  private readonly access: AccessService;

  constructor(deps: { sequelize: Sequelize; models: Models; outbox: PgOutbox; access: AccessService }) {
    this.sequelize = deps.sequelize;
    this.models = deps.models;
    this.outbox = deps.outbox;
    this.access = deps.access;
  }

  async list(
    actorId: string,
    teamId: string,
    page: { limit: number; cursor?: string | undefined },
  ): Promise<Page<TeamMemberView>> {
    await this.access.team(teamId, actorId);
    const keyset = afterCursor(page.cursor, 'm.joined_at', 'm.user_id');
    const rows = await this.sequelize.query<TeamMemberRow>(
      `SELECT m.user_id AS id, m.joined_at::text AS at, m.joined_at, m.role, u.name, u.email
         FROM team_members m LEFT JOIN users u ON u.id = m.user_id AND u.deleted_at IS NULL
        WHERE m.team_id = :teamId AND ${keyset.condition}
        ORDER BY m.joined_at, m.user_id
        LIMIT :take`,
      { replacements: { teamId, take: page.limit + 1, ...keyset.replacements }, type: QueryTypes.SELECT },
    );
    return keysetPage(rows, page.limit, toTeamMemberView);
  }

  /** One member of a team the actor can see. */
  async get(actorId: string, teamId: string, userId: string): Promise<TeamMemberView> {
    await this.access.team(teamId, actorId);
    return this.view(teamId, userId);
  }

  /** `member.add` by the team's policy, a role the actor may grant, and the user must be in the org. */
  async add(actorId: string, teamId: string, userId: string, role: TeamRole): Promise<TeamMemberView> {
    return this.sequelize.transaction(async (transaction) => {
      const ctx = await this.access.team(teamId, actorId, { transaction, lock: true });
      const decision = this.authorize(ctx, 'member.add');
      checkGrantedRole({ scope: 'team', actorRole: ctx.effective.role, actorBypass: decision.bypass, role });
      const orgId = ctx.org.id;
      const inOrg = await this.models.OrgMember.findOne({ where: { orgId, userId }, transaction });
      if (!inOrg) {
        throw errors.validation([{ path: 'body.userId', message: 'Not a member of the organization' }], 422);
      }
      if (await this.models.TeamMember.findOne({ where: { teamId, userId }, transaction })) {
        throw errors.conflict('The user is already a member of this team.');
      }
      await this.models.TeamMember.create({ teamId, orgId, userId, role }, { transaction });
      await this.outbox.add(
        transaction,
        governanceEvent(governanceEvents.teamMemberAdded, {
          orgId,
          actorId,
          subjectId: teamId,
          data: { orgId, teamId, userId, role },
        }),
      );
      return this.view(teamId, userId, transaction);
    });
  }

  async changeRole(actorId: string, teamId: string, userId: string, role: TeamRole): Promise<TeamMemberView> {
    return this.sequelize.transaction(async (transaction) => {
      const ctx = await this.access.team(teamId, actorId, { transaction, lock: true });
      const decision = this.authorize(ctx, 'member.updateRole');
      const target = await this.models.TeamMember.findOne({ where: { teamId, userId }, transaction });
      if (!target) throw errors.notFound('team member');
      checkRoleChange({
        scope: 'team',
        actorRole: ctx.effective.role,
        actorBypass: decision.bypass,
        targetRole: target.role,
        newRole: role,
      });
      const from = target.role;
      if (from !== role) {
        await target.update({ role }, { transaction });
        const orgId = ctx.org.id;
        await this.outbox.add(
          transaction,
          governanceEvent(governanceEvents.teamMemberRoleChanged, {
            orgId,
            actorId,
            subjectId: teamId,
            data: { orgId, teamId, userId, from, to: role },
          }),
        );
      }
      return this.view(teamId, userId, transaction);
    });
  }

  /** Removes a member, or lets the caller leave the team (own id), under the org's `allowSelfRemoval`. */
  async remove(actorId: string, teamId: string, userId: string): Promise<void> {
    await this.sequelize.transaction(async (transaction) => {
      const ctx = await this.access.team(teamId, actorId, { transaction, lock: true });
      const self = userId === actorId;
      const decision = self ? { bypass: false } : this.authorize(ctx, 'member.remove');
      const target = await this.models.TeamMember.findOne({ where: { teamId, userId }, transaction });
      if (!target) throw errors.notFound('team member');
      checkRemoval({
        scope: 'team',
        actorRole: self ? target.role : ctx.effective.role,
        actorBypass: decision.bypass,
        targetRole: target.role,
        self,
        allowSelfRemoval: orgSettingsOf(ctx.org).allowSelfRemoval,
      });
      await target.destroy({ transaction });
      const orgId = ctx.org.id;
      await this.outbox.add(
        transaction,
        governanceEvent(governanceEvents.teamMemberRemoved, {
          orgId,
          actorId,
          subjectId: teamId,
          data: { orgId, teamId, userId, reason: self ? 'left' : 'removed' },
        }),
      );
    });
  }

  private authorize(ctx: TeamContext, action: TeamAction) {
    return authorize({
      scope: 'team',
      action,
      memberships: { orgRole: ctx.role, teamRole: ctx.teamRole },
      settings: { org: orgSettingsOf(ctx.org), team: teamSettingsOf(ctx.team) },
    });
  }

  private async view(teamId: string, userId: string, transaction?: Transaction): Promise<TeamMemberView> {
    const [row] = await this.sequelize.query<TeamMemberRow>(
      `SELECT m.user_id AS id, m.joined_at::text AS at, m.joined_at, m.role, u.name, u.email
         FROM team_members m LEFT JOIN users u ON u.id = m.user_id AND u.deleted_at IS NULL
        WHERE m.team_id = :teamId AND m.user_id = :userId`,
      { replacements: { teamId, userId }, type: QueryTypes.SELECT, transaction },
    );
    if (!row) throw errors.notFound('team member');
    return toTeamMemberView(row);
  }
}

function toTeamMemberView(row: TeamMemberRow): TeamMemberView {
  return {
    userId: row.id,
    name: row.name,
    email: row.email,
    role: row.role,
    joinedAt: new Date(row.joined_at).toISOString(),
  };
}
