import { randomUUID } from 'node:crypto';
import { Op, QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import {
  authorize,
  authorizeRole,
  defaultTeamSettings,
  effectiveTeamRole,
  errors,
  formerOwnerRole,
  governanceEvents,
  type Page,
  type PgOutbox,
  type TeamRole,
} from '@trellis/shared';
import type { AccessService } from '../access/access.service.ts';
import {
  inTransaction,
  type ApprovalGate,
  type PendingApproval,
  type UseCaseOptions,
} from '../approvals/approval-gate.ts';
import { governanceEvent } from '../events/outgoing.ts';
import { afterCursor, keysetPage } from '../keyset.ts';
import type { Models } from '../models.ts';
import type { PlanLimits } from '../orgs/limits.service.ts';
import { ifMatchPasses, orgSettingsOf } from '../orgs/orgs.views.ts';
import type { TeamInstance } from './teams.model.ts';
import type { TeamView } from './teams.schemas.ts';
import { teamData, toTeamView } from './teams.views.ts';

/** Teams of an org: create (policy `team.create` + plan limit), read, rename, delete, hand over. */
export class TeamService {
  private readonly sequelize: Sequelize;
  private readonly models: Models;
  private readonly outbox: PgOutbox;
  private readonly access: AccessService;
  private readonly limits: PlanLimits;
  private readonly gate: ApprovalGate;

  constructor(deps: {
    sequelize: Sequelize;
    models: Models;
    outbox: PgOutbox;
    access: AccessService;
    limits: PlanLimits;
    gate: ApprovalGate;
  }) {
    this.sequelize = deps.sequelize;
    this.models = deps.models;
    this.outbox = deps.outbox;
    this.access = deps.access;
    this.limits = deps.limits;
    this.gate = deps.gate;
  }

  /**
   * The creator becomes the team's OWNER. A live team's name is unique in its org (case-insensitive).
   * With `requireApproval.teamCreation` (and an actor other than the OWNER) the creation waits for
   * an approval instead; approving runs this again as the requester.
   */
  async create(
    actorId: string,
    orgId: string,
    input: { name: string; description?: string | null | undefined },
    options: UseCaseOptions = {},
  ): Promise<TeamView | PendingApproval> {
    return inTransaction(this.sequelize, options.transaction, async (transaction) => {
      const actor = await this.access.org(orgId, actorId, { transaction, lock: true });
      const settings = orgSettingsOf(actor.org);
      const decision = authorize({
        scope: 'org',
        action: 'team.create',
        memberships: { orgRole: actor.role },
        settings: { org: settings },
      });
      await this.limits.assertWithinLimit(orgId, 'teams', transaction);
      await this.assertNameFree(orgId, input.name, undefined, transaction);
      if (this.gate.required('team.create', settings, decision, options)) {
        return this.gate.request(transaction, {
          orgId,
          kind: 'team.create',
          requestedBy: actorId,
          payload: { name: input.name, description: input.description ?? null },
        });
      }
      const team = await this.models.Team.create(
        {
          id: randomUUID(),
          orgId,
          name: input.name,
          description: input.description ?? null,
          ownerId: actorId,
          settings: defaultTeamSettings(),
        },
        { transaction },
      );
      await this.models.TeamMember.create(
        { teamId: team.id, orgId, userId: actorId, role: 'OWNER' },
        { transaction },
      );
      const meta = { orgId, actorId, subjectId: team.id };
      await this.outbox.add(transaction, [
        governanceEvent(governanceEvents.teamCreated, { ...meta, data: teamData(team) }),
        governanceEvent(governanceEvents.teamMemberAdded, {
          ...meta,
          data: { orgId, teamId: team.id, userId: actorId, role: 'OWNER' },
        }),
      ]);
      return toTeamView(team, 'OWNER');
    });
  }

  /** Every live team of the org, to any member, each with the caller's effective role. */
  async list(
    actorId: string,
    orgId: string,
    page: { limit: number; cursor?: string | undefined },
  ): Promise<Page<TeamView>> {
    const actor = await this.access.org(orgId, actorId);
    const keyset = afterCursor(page.cursor, 't.created_at', 't.id');
    const rows = await this.sequelize.query<{ id: string; at: string }>(
      `SELECT t.id, t.created_at::text AS at FROM teams t
        WHERE t.org_id = :orgId AND t.deleted_at IS NULL AND ${keyset.condition}
        ORDER BY t.created_at, t.id
        LIMIT :take`,
      { replacements: { orgId, take: page.limit + 1, ...keyset.replacements }, type: QueryTypes.SELECT },
    );
    const ids = rows.map((row) => row.id);
    const [teams, mine] = await Promise.all([
      this.models.Team.findAll({ where: { id: { [Op.in]: ids } } }),
      this.models.TeamMember.findAll({ where: { teamId: { [Op.in]: ids }, userId: actorId } }),
    ]);
    const byId = new Map(teams.map((team) => [team.id, team]));
    const roles = new Map(mine.map((m) => [m.teamId, m.role]));
    return keysetPage(
      rows.filter((row) => byId.has(row.id)),
      page.limit,
      (row) => {
        const teamRole = roles.get(row.id) ?? null;
        const { role } = effectiveTeamRole({ orgRole: actor.role, teamRole });
        return toTeamView(byId.get(row.id) as TeamInstance, role);
      },
    );
  }

  async get(actorId: string, teamId: string): Promise<TeamView> {
    const { team, effective } = await this.access.team(teamId, actorId);
    return toTeamView(team, effective.role);
  }

  /** Team MANAGER+ (effective: org OWNER/ADMIN count as MANAGER), honouring If-Match. */
  async update(
    actorId: string,
    teamId: string,
    input: { name?: string | undefined; description?: string | null | undefined },
    ifMatch?: string,
  ): Promise<TeamView> {
    return this.sequelize.transaction(async (transaction) => {
      const { team, effective } = await this.access.team(teamId, actorId, { transaction, lock: true });
      authorizeRole({ scope: 'team', action: 'team.update', ...effective });
      if (!ifMatchPasses(ifMatch, team)) throw errors.preconditionFailed();
      const changes: { name?: string; description?: string | null } = {};
      if (input.name !== undefined && input.name !== team.name) {
        await this.assertNameFree(team.orgId, input.name, team.id, transaction);
        changes.name = input.name;
      }
      if (input.description !== undefined && input.description !== team.description)
        changes.description = input.description;
      if (Object.keys(changes).length === 0) return toTeamView(team, effective.role);
      await team.update({ ...changes, version: team.version + 1 }, { transaction });
      await this.outbox.add(
        transaction,
        governanceEvent(governanceEvents.teamUpdated, {
          orgId: team.orgId,
          actorId,
          subjectId: team.id,
          data: teamData(team),
        }),
      );
      return toTeamView(team, effective.role);
    });
  }

  /** Soft delete by a team MANAGER+; the team and its memberships vanish from every read. */
  async remove(actorId: string, teamId: string): Promise<void> {
    await this.sequelize.transaction(async (transaction) => {
      const { team, effective } = await this.access.team(teamId, actorId, { transaction, lock: true });
      authorizeRole({ scope: 'team', action: 'team.delete', ...effective });
      await team.update({ version: team.version + 1 }, { transaction });
      await team.destroy({ transaction });
      await this.outbox.add(
        transaction,
        governanceEvent(governanceEvents.teamDeleted, {
          orgId: team.orgId,
          actorId,
          subjectId: team.id,
          data: { orgId: team.orgId, teamId: team.id },
        }),
      );
    });
  }

  /**
   * The team's owner (or the org OWNER, who bypasses every team rule) hands the team to one of its
   * members: target → OWNER, old owner → MANAGER.
   */
  async transferOwnership(actorId: string, teamId: string, toUserId: string): Promise<TeamView> {
    return this.sequelize.transaction(async (transaction) => {
      const ctx = await this.access.team(teamId, actorId, { transaction, lock: true });
      const { team } = ctx;
      authorizeRole({ scope: 'team', action: 'team.transferOwnership', ...ctx.effective });
      const fromUserId = team.ownerId;
      if (toUserId === fromUserId) {
        throw errors.validation([{ path: 'body.userId', message: 'Already the owner of this team' }], 422);
      }
      const target = await this.models.TeamMember.findOne({
        where: { teamId, userId: toUserId },
        transaction,
      });
      if (!target)
        throw errors.validation([{ path: 'body.userId', message: 'Not a member of this team' }], 422);
      const demotedTo = formerOwnerRole('team') as TeamRole;
      const targetFrom = target.role;
      const owner = await this.models.TeamMember.findOne({
        where: { teamId, userId: fromUserId },
        transaction,
      });
      // Demote first: the one-owner index is checked row by row.
      if (owner) await owner.update({ role: demotedTo }, { transaction });
      await target.update({ role: 'OWNER' }, { transaction });
      await team.update({ ownerId: toUserId, version: team.version + 1 }, { transaction });
      const orgId = team.orgId;
      const meta = { orgId, actorId, subjectId: teamId };
      await this.outbox.add(transaction, [
        governanceEvent(governanceEvents.teamOwnershipTransferred, {
          ...meta,
          data: { orgId, teamId, fromUserId, toUserId },
        }),
        ...(owner
          ? [
              governanceEvent(governanceEvents.teamMemberRoleChanged, {
                ...meta,
                data: { orgId, teamId, userId: fromUserId, from: 'OWNER', to: demotedTo },
              }),
            ]
          : []),
        governanceEvent(governanceEvents.teamMemberRoleChanged, {
          ...meta,
          data: { orgId, teamId, userId: toUserId, from: targetFrom, to: 'OWNER' },
        }),
      ]);
      const myRole = effectiveTeamRole({
        orgRole: ctx.role,
        teamRole: actorId === toUserId ? 'OWNER' : actorId === fromUserId ? demotedTo : ctx.teamRole,
      }).role;
      return toTeamView(team, myRole);
    });
  }

  private async assertNameFree(
    orgId: string,
    name: string,
    exceptTeamId: string | undefined,
    transaction: Transaction,
  ): Promise<void> {
    const [clash] = await this.sequelize.query<{ id: string }>(
      `SELECT id FROM teams WHERE org_id = :orgId AND deleted_at IS NULL AND lower(name) = lower(:name)
          AND id <> :exceptTeamId LIMIT 1`,
      {
        replacements: { orgId, name, exceptTeamId: exceptTeamId ?? '00000000-0000-0000-0000-000000000000' },
        type: QueryTypes.SELECT,
        transaction,
      },
    );
    if (clash) throw errors.conflict(`A team named "${name}" already exists in this organization.`);
  }
}
