import { defaultTeamSettings, type TeamRole, type TeamSettings } from '@trellis/shared';
import type { TeamInstance } from './teams.model.ts';
import type { TeamView } from './teams.schemas.ts';

export function teamSettingsOf(team: TeamInstance): TeamSettings {
  return { ...defaultTeamSettings(), ...(team.settings as Partial<TeamSettings>) };
}

export function toTeamView(team: TeamInstance, myRole: TeamRole | null): TeamView {
  return {
    id: team.id,
    orgId: team.orgId,
    name: team.name,
    description: team.description,
    ownerId: team.ownerId,
    myRole,
    createdAt: team.createdAt.toISOString(),
    version: team.version,
  };
}

export function teamData(team: TeamInstance) {
  return {
    orgId: team.orgId,
    teamId: team.id,
    name: team.name,
    description: team.description,
    ownerId: team.ownerId,
  };
}
