import { Op } from 'sequelize';
import { errors, type OrgRole, type OrgSettings, type TeamRole, type TeamSettings } from '@trellis/shared';
import type { Models } from '../models.ts';
import { orgSettingsOf } from '../orgs/orgs.views.ts';
import { teamSettingsOf } from '../teams/teams.views.ts';

export interface MembershipSnapshot {
  orgId: string;
  userId: string;
  role: OrgRole;
  teams: { teamId: string; role: TeamRole }[];
  orgSettings: OrgSettings;
  teamSettings: Record<string, TeamSettings>;
}

/**
 * The membership fallback of architecture.md §2: another service whose projection lacks a
 * membership (the event still in flight) asks here before answering 404/403.
 */
export class InternalService {
  private readonly models: Models;

  constructor(deps: { models: Models }) {
    this.models = deps.models;
  }

  async membership(orgId: string, userId: string): Promise<MembershipSnapshot> {
    const org = await this.models.Org.findByPk(orgId);
    const member = org ? await this.models.OrgMember.findOne({ where: { orgId, userId } }) : null;
    if (!org || !member) throw errors.notFound('membership');
    const rows = await this.models.TeamMember.findAll({ where: { orgId, userId } });
    const teams = await this.models.Team.findAll({ where: { id: { [Op.in]: rows.map((r) => r.teamId) } } });
    const live = new Map(teams.map((team) => [team.id, team]));
    const mine = rows.filter((row) => live.has(row.teamId));
    return {
      orgId,
      userId,
      role: member.role,
      teams: mine.map((row) => ({ teamId: row.teamId, role: row.role })),
      orgSettings: orgSettingsOf(org),
      teamSettings: Object.fromEntries(teams.map((team) => [team.id, teamSettingsOf(team)])),
    };
  }
}
