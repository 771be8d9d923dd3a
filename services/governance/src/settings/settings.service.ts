import type { Sequelize } from 'sequelize';
import {
  applyOrgSettingsPatch,
  applyTeamSettingsPatch,
  authorize,
  governanceEvents,
  thresholdsInForce,
  type OrgSettings,
  type OrgSettingsPatch,
  type PgOutbox,
  type TeamSettings,
  type TeamSettingsPatch,
} from '@trellis/shared';
import type { AccessService } from '../access/access.service.ts';
import { governanceEvent } from '../events/outgoing.ts';
import { orgSettingsOf } from '../orgs/orgs.views.ts';
import { teamSettingsOf } from '../teams/teams.views.ts';

export type OrgSettingsView = OrgSettings & { thresholdsInForce: Record<string, string> };
export type TeamSettingsView = TeamSettings & { thresholdsInForce: Record<string, string> };

const orgView = (settings: OrgSettings): OrgSettingsView => ({
  ...settings,
  thresholdsInForce: thresholdsInForce('org', { org: settings }),
});
const teamView = (settings: TeamSettings): TeamSettingsView => ({
  ...settings,
  thresholdsInForce: thresholdsInForce('team', { team: settings }),
});

/**
 * Org and team settings (product.md §3). Ranges and values are the policy engine's to judge:
 * a threshold outside its action's range comes back as a 422 naming the range.
 */
export class SettingsService {
  private readonly sequelize: Sequelize;
  private readonly outbox: PgOutbox;
  private readonly access: AccessService;

  constructor(deps: { sequelize: Sequelize; outbox: PgOutbox; access: AccessService }) {
    this.sequelize = deps.sequelize;
    this.outbox = deps.outbox;
    this.access = deps.access;
  }

  async getOrg(actorId: string, orgId: string): Promise<OrgSettingsView> {
    const { org } = await this.access.org(orgId, actorId);
    return orgView(orgSettingsOf(org));
  }

  /** ADMIN+ (product.md §3: the owner, or an org ADMIN for org settings). */
  async patchOrg(actorId: string, orgId: string, patch: OrgSettingsPatch): Promise<OrgSettingsView> {
    return this.sequelize.transaction(async (transaction) => {
      const { org, role } = await this.access.org(orgId, actorId, { transaction, lock: true });
      authorize({ scope: 'org', action: 'settings.update', memberships: { orgRole: role } });
      const settings = applyOrgSettingsPatch(orgSettingsOf(org), patch);
      await org.update({ settings, version: org.version + 1 }, { transaction });
      await this.outbox.add(
        transaction,
        governanceEvent(governanceEvents.orgSettingsChanged, {
          orgId,
          actorId,
          subjectId: orgId,
          data: { orgId, settings: { ...settings } },
        }),
      );
      return orgView(settings);
    });
  }

  async getTeam(actorId: string, teamId: string): Promise<TeamSettingsView> {
    const { team } = await this.access.team(teamId, actorId);
    return teamView(teamSettingsOf(team));
  }

  /** The team's OWNER, or an org ADMIN+ (the org OWNER bypasses). */
  async patchTeam(actorId: string, teamId: string, patch: TeamSettingsPatch): Promise<TeamSettingsView> {
    return this.sequelize.transaction(async (transaction) => {
      const ctx = await this.access.team(teamId, actorId, { transaction, lock: true });
      // The catalogue's team settings.update: the team OWNER, or whoever may change the org's settings.
      authorize({
        scope: 'team',
        action: 'settings.update',
        memberships: { orgRole: ctx.role, teamRole: ctx.teamRole },
      });
      const settings = applyTeamSettingsPatch(teamSettingsOf(ctx.team), patch);
      await ctx.team.update({ settings, version: ctx.team.version + 1 }, { transaction });
      const orgId = ctx.org.id;
      await this.outbox.add(
        transaction,
        governanceEvent(governanceEvents.teamSettingsChanged, {
          orgId,
          actorId,
          subjectId: teamId,
          data: { orgId, teamId, settings: { ...settings } },
        }),
      );
      return teamView(settings);
    });
  }
}
