import { z } from 'zod';

/** The role ladders of product.md §2, lowest first: a role's rank is its index + 1 (1..5). */
export const ORG_ROLES = ['VIEWER', 'MEMBER', 'MANAGER', 'ADMIN', 'OWNER'] as const;
export const TEAM_ROLES = ['VIEWER', 'MEMBER', 'LEAD', 'MANAGER', 'OWNER'] as const;
export const PROJECT_ROLES = ['VIEWER', 'CONTRIBUTOR', 'LEAD', 'MANAGER', 'OWNER'] as const;

export type OrgRole = (typeof ORG_ROLES)[number];
export type TeamRole = (typeof TEAM_ROLES)[number];
export type ProjectRole = (typeof PROJECT_ROLES)[number];

export type Scope = 'org' | 'team' | 'project';
export const SCOPES: readonly Scope[] = ['org', 'team', 'project'];

export type RoleOf<S extends Scope> = S extends 'org' ? OrgRole : S extends 'team' ? TeamRole : ProjectRole;

export const orgRoleSchema = z.enum(ORG_ROLES);
export const teamRoleSchema = z.enum(TEAM_ROLES);
export const projectRoleSchema = z.enum(PROJECT_ROLES);

const LADDERS: Record<Scope, readonly string[]> = {
  org: ORG_ROLES,
  team: TEAM_ROLES,
  project: PROJECT_ROLES,
};

/** The ladder of a scope, lowest role first. */
export function rolesOf<S extends Scope>(scope: S): readonly RoleOf<S>[] {
  return LADDERS[scope] as readonly RoleOf<S>[];
}

/** 1 (VIEWER) .. 5 (OWNER). An unknown role is a programmer error, never silently ranked. */
export function rank(scope: Scope, role: string): number {
  const index = LADDERS[scope].indexOf(role);
  if (index < 0) throw new Error(`"${role}" is not a ${scope} role (one of ${LADDERS[scope].join(', ')})`);
  return index + 1;
}

export function roleAt(scope: Scope, rankValue: number): string {
  const role = LADDERS[scope][rankValue - 1];
  if (role === undefined || !Number.isInteger(rankValue))
    throw new Error(`no ${scope} role has rank ${rankValue}`);
  return role;
}

/** Whether a role is its ladder's top, the one an ownership transfer gives. */
export function isOwnerRole(role: string | null | undefined): boolean {
  return role === 'OWNER';
}

/** Whether `role` is `required` or higher; no role (null/undefined) is never enough. */
export function atLeast(scope: Scope, role: string | null | undefined, required: string): boolean {
  const needed = rank(scope, required);
  if (role === null || role === undefined) return false;
  return rank(scope, role) >= needed;
}

/** Whether `role` ranks strictly above `other`; no role outranks nobody. */
export function outranks(scope: Scope, role: string | null | undefined, other: string): boolean {
  const otherRank = rank(scope, other);
  if (role === null || role === undefined) return false;
  return rank(scope, role) > otherRank;
}

/** The highest of some roles of one ladder (null when none). */
export function highestRole(scope: Scope, roles: readonly (string | null | undefined)[]): string | null {
  let best: string | null = null;
  for (const role of roles) {
    if (role === null || role === undefined) continue;
    if (best === null || rank(scope, role) > rank(scope, best)) best = role;
  }
  return best;
}
