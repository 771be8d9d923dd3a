import type { Transaction } from 'sequelize';
import { AppError, effectiveTeamRole, errors, type OrgRole, type TeamRole } from '@trellis/shared';
import type { Models } from '../models.ts';
import type { OrgMemberInstance } from '../members/members.model.ts';
import type { OrgInstance } from '../orgs/orgs.model.ts';
import type { TeamInstance, TeamMemberInstance } from '../teams/teams.model.ts';

/** The caller inside a live org they belong to. */
export interface OrgContext {
  org: OrgInstance;
  member: OrgMemberInstance;
  role: OrgRole;
}

/** The caller on a live team of a live org they belong to (they need not be on the team). */
export interface TeamContext extends OrgContext {
  team: TeamInstance;
  teamMember: TeamMemberInstance | null;
  teamRole: TeamRole | null;
  /** Explicit team role, or the one the org role gives (org OWNER/ADMIN act as MANAGER; OWNER bypasses). */
  effective: { role: TeamRole | null; bypass: boolean };
}

interface Lookup {
  transaction?: Transaction;
  /** Lock the org row (FOR UPDATE): every write in one org serialises on it (counts, owners, roles). */
  lock?: boolean;
}

/**
 * Tenancy (product.md §1): an org the caller does not belong to, a deleted org, and anything inside
 * either, are all "not found" — existence is never leaked. 403s come later, from the policy engine.
 */
export class AccessService {
  private readonly models: Models;

  constructor(deps: { models: Models }) {
    this.models = deps.models;
  }

  async org(orgId: string, userId: string, { transaction, lock = false }: Lookup = {}): Promise<OrgContext> {
    const org = await this.models.Org.findByPk(orgId, {
      transaction,
      ...(lock && transaction ? { lock: transaction.LOCK.UPDATE } : {}),
    });
    const member = org
      ? await this.models.OrgMember.findOne({ where: { orgId, userId }, transaction })
      : null;
    if (!org || !member) throw errors.notFound('organization');
    return { org, member, role: member.role };
  }

  async team(
    teamId: string,
    userId: string,
    { transaction, lock = false }: Lookup = {},
  ): Promise<TeamContext> {
    const found = await this.models.Team.findByPk(teamId, { transaction });
    if (!found) throw errors.notFound('team');
    const context = await this.org(found.orgId, userId, { transaction, lock }).catch((err: unknown) => {
      throw err instanceof AppError && err.status === 404 ? errors.notFound('team') : err;
    });
    // Re-read under the org lock so the team row is current for this transaction's decisions.
    const team = lock ? await this.models.Team.findByPk(teamId, { transaction }) : found;
    if (!team) throw errors.notFound('team');
    const teamMember = await this.models.TeamMember.findOne({ where: { teamId, userId }, transaction });
    const teamRole = teamMember?.role ?? null;
    const effective = effectiveTeamRole({ orgRole: context.role, teamRole });
    return { ...context, team, teamMember, teamRole, effective };
  }
}
