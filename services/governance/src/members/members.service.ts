import { Op, QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import {
  AppError,
  authorize,
  checkRemoval,
  checkRoleChange,
  errors,
  governanceEvents,
  type OrgRole,
  type Page,
  type PgOutbox,
} from '@trellis/shared';
import type { AccessService } from '../access/access.service.ts';
import {
  inTransaction,
  type ApprovalGate,
  type PendingApproval,
  type UseCaseOptions,
} from '../approvals/approval-gate.ts';
import { governanceEvent } from '../events/outgoing.ts';
import { afterCursor, containsPattern, keysetPage } from '../keyset.ts';
import type { Models } from '../models.ts';
import type { PlanLimits } from '../orgs/limits.service.ts';
import { orgSettingsOf } from '../orgs/orgs.views.ts';
import type { MemberView } from './members.schemas.ts';

interface MemberRow {
  id: string;
  at: string;
  role: OrgRole;
  joined_at: Date;
  name: string | null;
  email: string | null;
}

type RemovalReason = 'removed' | 'left' | 'user_deleted';
const TEAM_REASON = { removed: 'org_removed', left: 'org_removed', user_deleted: 'user_deleted' } as const;

/**
 * Org memberships (product.md §4). Each use case is a plain method that re-reads and re-checks
 * everything inside its own transaction, so an approval can execute it later exactly as if the
 * actor had just asked.
 */
export class MemberService {
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

  /** Any member may list the members, filtered by role and by `q` on name or e-mail. */
  async list(
    actorId: string,
    orgId: string,
    query: { role?: OrgRole | undefined; q?: string | undefined; limit: number; cursor?: string | undefined },
  ): Promise<Page<MemberView>> {
    await this.access.org(orgId, actorId);
    const keyset = afterCursor(query.cursor, 'm.joined_at', 'm.user_id');
    const filters = [keyset.condition];
    if (query.role) filters.push('m.role = :role');
    if (query.q) filters.push('(u.name ILIKE :q OR u.email ILIKE :q)');
    const rows = await this.sequelize.query<MemberRow>(
      `SELECT m.user_id AS id, m.joined_at::text AS at, m.joined_at, m.role, u.name, u.email
         FROM org_members m LEFT JOIN users u ON u.id = m.user_id AND u.deleted_at IS NULL
        WHERE m.org_id = :orgId AND ${filters.join(' AND ')}
        ORDER BY m.joined_at, m.user_id
        LIMIT :take`,
      {
        replacements: {
          orgId,
          role: query.role,
          q: query.q === undefined ? undefined : containsPattern(query.q),
          take: query.limit + 1,
          ...keyset.replacements,
        },
        type: QueryTypes.SELECT,
      },
    );
    return keysetPage(rows, query.limit, toMemberView);
  }

  /**
   * `member.updateRole` by policy, then the membership rules: outrank the target, stay below
   * yourself. With `requireApproval.roleChanges` (and an actor other than the OWNER) the change
   * waits for an approval instead.
   */
  async changeRole(
    actorId: string,
    orgId: string,
    userId: string,
    role: OrgRole,
    options: UseCaseOptions = {},
  ): Promise<MemberView | PendingApproval> {
    return inTransaction(this.sequelize, options.transaction, async (transaction) => {
      const actor = await this.access.org(orgId, actorId, { transaction, lock: true });
      const settings = orgSettingsOf(actor.org);
      const decision = authorize({
        scope: 'org',
        action: 'member.updateRole',
        memberships: { orgRole: actor.role },
        settings: { org: settings },
      });
      const target = await this.models.OrgMember.findOne({ where: { orgId, userId }, transaction });
      if (!target) throw errors.notFound('member');
      checkRoleChange({
        scope: 'org',
        actorRole: actor.role,
        actorBypass: decision.bypass,
        targetRole: target.role,
        newRole: role,
      });
      const from = target.role;
      if (from !== role && this.gate.required('member.updateRole', settings, decision, options)) {
        return this.gate.request(transaction, {
          orgId,
          kind: 'member.updateRole',
          requestedBy: actorId,
          payload: { userId, role, from },
        });
      }
      if (from !== role) {
        await target.update({ role }, { transaction });
        await this.outbox.add(
          transaction,
          governanceEvent(governanceEvents.memberRoleChanged, {
            orgId,
            actorId,
            subjectId: `${orgId}:${userId}`,
            data: { orgId, userId, from, to: role },
          }),
        );
      }
      return this.view(orgId, userId, transaction);
    });
  }

  /**
   * Removes a member (`member.remove` by policy, then the membership rules), or lets the caller
   * leave when `userId` is their own (allowed unless the org turned `allowSelfRemoval` off). The
   * OWNER can do neither before transferring ownership; nor can a team owner before handing the team on.
   * With `requireApproval.removals` (and an actor other than the OWNER) a removal waits for an
   * approval instead; leaving never does.
   */
  async remove(
    actorId: string,
    orgId: string,
    userId: string,
    options: UseCaseOptions = {},
  ): Promise<PendingApproval | undefined> {
    return inTransaction(this.sequelize, options.transaction, async (transaction) => {
      const actor = await this.access.org(orgId, actorId, { transaction, lock: true });
      const settings = orgSettingsOf(actor.org);
      const self = userId === actorId;
      const decision = self
        ? { bypass: false }
        : authorize({
            scope: 'org',
            action: 'member.remove',
            memberships: { orgRole: actor.role },
            settings: { org: settings },
          });
      const target = self
        ? actor.member
        : await this.models.OrgMember.findOne({ where: { orgId, userId }, transaction });
      if (!target) throw errors.notFound('member');
      checkRemoval({
        scope: 'org',
        actorRole: actor.role,
        actorBypass: decision.bypass,
        targetRole: target.role,
        self,
        allowSelfRemoval: settings.allowSelfRemoval,
      });
      const ownedTeams = await this.models.Team.findAll({ where: { orgId, ownerId: userId }, transaction });
      if (ownedTeams.length > 0) {
        const names = ownedTeams.map((team) => `"${team.name}"`).join(', ');
        throw new AppError(409, 'OWNER_MUST_TRANSFER', {
          detail: `${self ? 'You own' : 'The member owns'} the team(s) ${names}: transfer ownership first.`,
        });
      }
      if (!self && this.gate.required('member.remove', settings, decision, options)) {
        return this.gate.request(transaction, {
          orgId,
          kind: 'member.remove',
          requestedBy: actorId,
          payload: { userId, role: target.role },
        });
      }
      await this.detach(transaction, orgId, userId, self ? 'left' : 'removed', actorId);
      return undefined;
    });
  }

  /**
   * Adds a member (invitation accepted, join request approved): the member limit of the org's plan
   * holds. The caller has decided that the user may join; this only writes it.
   */
  async add(
    transaction: Transaction,
    input: { orgId: string; userId: string; role: OrgRole; actorId: string },
  ): Promise<void> {
    const { orgId, userId, role, actorId } = input;
    if (await this.models.OrgMember.findOne({ where: { orgId, userId }, transaction })) {
      throw errors.conflict('The user is already a member of this organization.');
    }
    await this.limits.assertWithinLimit(orgId, 'members', transaction);
    await this.models.OrgMember.create({ orgId, userId, role }, { transaction });
    await this.outbox.add(
      transaction,
      governanceEvent(governanceEvents.memberAdded, {
        orgId,
        actorId,
        subjectId: `${orgId}:${userId}`,
        data: { orgId, userId, role },
      }),
    );
  }

  /**
   * identity deleted the account: the user leaves every org and team. Teams they owned pass to
   * their org's owner; an org they own (identity refuses that deletion, so only a stale projection
   * could get here) keeps its owner row and is left for an operator.
   */
  async removeDeletedUser(transaction: Transaction, userId: string): Promise<void> {
    const memberships = await this.models.OrgMember.findAll({
      where: { userId, role: { [Op.ne]: 'OWNER' } },
      transaction,
    });
    for (const membership of memberships) {
      const org = await this.models.Org.findByPk(membership.orgId, {
        paranoid: false,
        transaction,
        lock: transaction.LOCK.UPDATE,
      });
      if (!org) continue;
      const owned = await this.models.Team.findAll({
        where: { orgId: org.id, ownerId: userId },
        transaction,
      });
      for (const team of owned) await this.handTeamToOrgOwner(transaction, team.id, org.ownerId, userId);
      await this.detach(transaction, org.id, userId, 'user_deleted', userId);
    }
  }

  private async handTeamToOrgOwner(
    transaction: Transaction,
    teamId: string,
    orgOwnerId: string,
    fromUserId: string,
  ): Promise<void> {
    const team = await this.models.Team.findByPk(teamId, { transaction });
    if (!team) return;
    const orgId = team.orgId;
    const previous = await this.models.TeamMember.findOne({
      where: { teamId, userId: orgOwnerId },
      transaction,
    });
    await this.models.TeamMember.destroy({ where: { teamId, userId: fromUserId }, transaction });
    if (previous) await previous.update({ role: 'OWNER' }, { transaction });
    else
      await this.models.TeamMember.create(
        { teamId, orgId, userId: orgOwnerId, role: 'OWNER' },
        { transaction },
      );
    await team.update({ ownerId: orgOwnerId, version: team.version + 1 }, { transaction });
    const meta = { orgId, actorId: fromUserId };
    await this.outbox.add(transaction, [
      governanceEvent(governanceEvents.teamOwnershipTransferred, {
        ...meta,
        subjectId: teamId,
        data: { orgId, teamId, fromUserId, toUserId: orgOwnerId },
      }),
      previous
        ? governanceEvent(governanceEvents.teamMemberRoleChanged, {
            ...meta,
            subjectId: teamId,
            data: { orgId, teamId, userId: orgOwnerId, from: previous.role, to: 'OWNER' },
          })
        : governanceEvent(governanceEvents.teamMemberAdded, {
            ...meta,
            subjectId: teamId,
            data: { orgId, teamId, userId: orgOwnerId, role: 'OWNER' },
          }),
    ]);
  }

  /** Takes the user off the org and, in the same transaction, off every team of it. */
  private async detach(
    transaction: Transaction,
    orgId: string,
    userId: string,
    reason: RemovalReason,
    actorId: string,
  ): Promise<void> {
    const teamRows = await this.models.TeamMember.findAll({ where: { orgId, userId }, transaction });
    await this.models.TeamMember.destroy({ where: { orgId, userId }, transaction });
    await this.models.OrgMember.destroy({ where: { orgId, userId }, transaction });
    const meta = { orgId, actorId };
    await this.outbox.add(transaction, [
      ...teamRows.map((row) =>
        governanceEvent(governanceEvents.teamMemberRemoved, {
          ...meta,
          subjectId: row.teamId,
          data: { orgId, teamId: row.teamId, userId, reason: TEAM_REASON[reason] },
        }),
      ),
      governanceEvent(governanceEvents.memberRemoved, {
        ...meta,
        subjectId: `${orgId}:${userId}`,
        data: { orgId, userId, reason },
      }),
    ]);
  }

  private async view(orgId: string, userId: string, transaction: Transaction): Promise<MemberView> {
    const member = await this.models.OrgMember.findOne({ where: { orgId, userId }, transaction });
    if (!member) throw errors.notFound('member');
    const user = await this.models.DirectoryUser.findOne({
      where: { id: userId, deletedAt: null },
      transaction,
    });
    return {
      userId,
      name: user?.name ?? null,
      email: user?.email ?? null,
      role: member.role,
      joinedAt: member.joinedAt.toISOString(),
    };
  }
}

function toMemberView(row: MemberRow): MemberView {
  return {
    userId: row.id,
    name: row.name,
    email: row.email,
    role: row.role,
    joinedAt: new Date(row.joined_at).toISOString(),
  };
}
