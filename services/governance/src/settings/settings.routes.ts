import {
  currentUser,
  orgSettingsPatchSchema,
  teamSettingsPatchSchema,
  type Route,
  route,
} from '@trellis/shared';
import { orgIdParams } from '../orgs/orgs.schemas.ts';
import { teamIdParams } from '../teams/teams.schemas.ts';
import { orgSettingsSchema, teamSettingsSchema } from './settings.schemas.ts';
import type { SettingsService } from './settings.service.ts';

const tags = ['settings'];
const outOfRange = { description: 'A threshold outside its action’s range (the range is named)' };

export function settingsRoutes(settings: SettingsService): Route[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/orgs/{orgId}/settings',
      policy: 'access',
      summary: 'Org settings: thresholds, toggles, plan, projectDefaults',
      tags,
      params: orgIdParams,
      responses: {
        200: { description: 'Settings', schema: orgSettingsSchema },
        404: { description: 'Not found' },
      },
      handle: async (req, res) => {
        res.json(await settings.getOrg(currentUser(req).id, String(req.params.orgId)));
      },
    }),
    route({
      method: 'patch',
      path: '/api/v1/orgs/{orgId}/settings',
      policy: { scope: 'org', action: 'settings.update' },
      summary: 'Change org settings (ADMIN+); a threshold set to null returns to its default',
      tags,
      params: orgIdParams,
      body: orgSettingsPatchSchema,
      responses: {
        200: { description: 'Settings', schema: orgSettingsSchema },
        403: { description: 'POLICY_DENIED' },
        422: outOfRange,
      },
      handle: async (req, res) => {
        res.json(await settings.patchOrg(currentUser(req).id, String(req.params.orgId), req.body));
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/teams/{teamId}/settings',
      policy: 'access',
      summary: 'Team settings: thresholds and projectDefaults',
      tags,
      params: teamIdParams,
      responses: {
        200: { description: 'Settings', schema: teamSettingsSchema },
        404: { description: 'Not found' },
      },
      handle: async (req, res) => {
        res.json(await settings.getTeam(currentUser(req).id, String(req.params.teamId)));
      },
    }),
    route({
      method: 'patch',
      path: '/api/v1/teams/{teamId}/settings',
      policy: { scope: 'team', action: 'settings.update' },
      summary: 'Change team settings (team OWNER or org ADMIN+)',
      tags,
      params: teamIdParams,
      body: teamSettingsPatchSchema,
      responses: {
        200: { description: 'Settings', schema: teamSettingsSchema },
        403: { description: 'POLICY_DENIED' },
        422: outOfRange,
      },
      handle: async (req, res) => {
        res.json(await settings.patchTeam(currentUser(req).id, String(req.params.teamId), req.body));
      },
    }),
  ];
}
