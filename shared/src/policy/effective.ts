import type { OrgRole, ProjectRole, Scope, TeamRole } from './roles.ts';
import { highestRole, rank } from './roles.ts';

/** What a caller knows about one user's memberships around the entity being acted on. */
export interface Memberships {
  /** null: not a member of the org — then nothing inside it is accessible. */
  orgRole: OrgRole | null;
  teamRole?: TeamRole | null;
  projectRole?: ProjectRole | null;
  /** The project's visibility; absent means ORG (the default). */
  visibility?: 'ORG' | 'PRIVATE';
  /** false: the project has no team, so any teamRole given is ignored. */
  projectHasTeam?: boolean;
}

export type ProjectRoleSource = 'explicit' | 'org' | 'team';

/** Explicit team role; org OWNER/ADMIN act as team MANAGER at least, and the org OWNER bypasses. */
export function effectiveTeamRole(m: { orgRole: OrgRole | null; teamRole: TeamRole | null }): {
  role: TeamRole | null;
  bypass: boolean;
} {
  if (m.orgRole === null) return { role: null, bypass: false };
  const fromOrg: TeamRole | null = m.orgRole === 'OWNER' || m.orgRole === 'ADMIN' ? 'MANAGER' : null;
  return {
    role: highestRole('team', [m.teamRole, fromOrg]) as TeamRole | null,
    bypass: m.orgRole === 'OWNER',
  };
}

const PROJECT_ROLE_FROM_TEAM: Record<TeamRole, ProjectRole> = {
  OWNER: 'MANAGER',
  MANAGER: 'MANAGER',
  LEAD: 'LEAD',
  MEMBER: 'CONTRIBUTOR',
  VIEWER: 'VIEWER',
};

function projectRoleFromOrg(orgRole: OrgRole, visibility: 'ORG' | 'PRIVATE'): ProjectRole | null {
  if (orgRole === 'OWNER') return 'OWNER';
  if (orgRole === 'ADMIN') return 'MANAGER';
  return visibility === 'ORG' ? 'VIEWER' : null;
}

/**
 * product.md §2: the highest of the explicit project role, the role derived from the org and the one
 * derived from the project's team. The org OWNER is OWNER everywhere and bypasses every project policy.
 * Without an org role there is no project role at all, whatever stale memberships remain.
 * On a tie the source is reported as explicit, then team, then org.
 */
export function effectiveProjectRole(m: Memberships): {
  role: ProjectRole | null;
  source: ProjectRoleSource | null;
  bypass: boolean;
} {
  if (m.orgRole === null) return { role: null, source: null, bypass: false };
  const candidates: [ProjectRole | null, ProjectRoleSource][] = [
    [m.projectRole ?? null, 'explicit'],
    [m.projectHasTeam !== false && m.teamRole ? PROJECT_ROLE_FROM_TEAM[m.teamRole] : null, 'team'],
    [projectRoleFromOrg(m.orgRole, m.visibility ?? 'ORG'), 'org'],
  ];
  let best: { role: ProjectRole; source: ProjectRoleSource } | null = null;
  for (const [role, source] of candidates) {
    if (role !== null && (best === null || rank('project', role) > rank('project', best.role)))
      best = { role, source };
  }
  return { role: best?.role ?? null, source: best?.source ?? null, bypass: m.orgRole === 'OWNER' };
}

/** The effective role at a scope, with whether the org OWNER bypass applies. */
export function effectiveRole(scope: Scope, m: Memberships): { role: string | null; bypass: boolean } {
  switch (scope) {
    case 'org':
      return { role: m.orgRole, bypass: m.orgRole === 'OWNER' };
    case 'team':
      return effectiveTeamRole({ orgRole: m.orgRole, teamRole: m.teamRole ?? null });
    case 'project': {
      const { role, bypass } = effectiveProjectRole(m);
      return { role, bypass };
    }
  }
}
