import { z } from 'zod';
import { AppError, errors, type FieldError } from '../http/errors.ts';
import { ORG_ACTIONS, PROJECT_ACTIONS, TEAM_ACTIONS, actionsOf, ruleOf } from './catalogue.ts';
import type { ActionOf } from './catalogue.ts';
import { orgRoleSchema, projectRoleSchema, rank, roleAt, teamRoleSchema } from './roles.ts';
import type { OrgRole, RoleOf, Scope } from './roles.ts';

export const PLANS = ['FREE', 'PRO', 'ENTERPRISE'] as const;
export type Plan = (typeof PLANS)[number];
export const planSchema = z.enum(PLANS);

export type PlanResource = 'members' | 'teams' | 'projects';

export const PLAN_LIMITS: Record<Plan, Record<PlanResource, number>> = {
  FREE: { members: 50, teams: 5, projects: 10 },
  PRO: { members: 500, teams: 50, projects: 200 },
  ENTERPRISE: { members: Infinity, teams: Infinity, projects: Infinity },
};

/**
 * Throws 409 LIMIT_REACHED when an org already holding `current` of a resource may not add `adding` more.
 * The body carries `limit: {plan, resource, max}`.
 */
export function assertWithinPlanLimit(plan: Plan, resource: PlanResource, current: number, adding = 1): void {
  const max = PLAN_LIMITS[plan][resource];
  if (current + adding <= max) return;
  throw new AppError(409, 'LIMIT_REACHED', {
    detail: `The ${plan} plan allows at most ${max} ${resource}; this organization has ${current}.`,
    extensions: { limit: { plan, resource, max } },
  });
}

/** Explicitly set thresholds; an action left out uses its catalogue default. */
export type Thresholds<S extends Scope> = Partial<Record<ActionOf<S>, RoleOf<S>>>;

export interface RequireApproval {
  invites: boolean;
  roleChanges: boolean;
  removals: boolean;
  teamCreation: boolean;
  projectCreation: boolean;
}

export interface OrgSettings {
  thresholds: Thresholds<'org'>;
  projectDefaults: Thresholds<'project'>;
  allowSelfRemoval: boolean;
  allowJoinRequests: boolean;
  defaultMemberRole: OrgRole;
  requireApproval: RequireApproval;
  plan: Plan;
}

export interface TeamSettings {
  thresholds: Thresholds<'team'>;
  projectDefaults: Thresholds<'project'>;
}

export type ProjectInherit = 'none' | 'team' | 'org';

export interface ProjectSettings {
  thresholds: Thresholds<'project'>;
  inherit: ProjectInherit;
  onlyAssigneeCanUpdateTask: boolean;
}

export function defaultOrgSettings(): OrgSettings {
  return {
    thresholds: {},
    projectDefaults: {},
    allowSelfRemoval: true,
    allowJoinRequests: false,
    defaultMemberRole: 'MEMBER',
    requireApproval: {
      invites: false,
      roleChanges: false,
      removals: false,
      teamCreation: false,
      projectCreation: false,
    },
    plan: 'FREE',
  };
}

export function defaultTeamSettings(): TeamSettings {
  return { thresholds: {}, projectDefaults: {} };
}

export function defaultProjectSettings(): ProjectSettings {
  return { thresholds: {}, inherit: 'none', onlyAssigneeCanUpdateTask: false };
}

// PATCH bodies. Role names are checked here (400); whether a role is inside its action's range is
// checked by apply*SettingsPatch (422 naming the range). `null` resets a threshold to its default.
const orgThresholdsPatch = z.partialRecord(z.enum(ORG_ACTIONS), orgRoleSchema.nullable());
const teamThresholdsPatch = z.partialRecord(z.enum(TEAM_ACTIONS), teamRoleSchema.nullable());
const projectThresholdsPatch = z.partialRecord(z.enum(PROJECT_ACTIONS), projectRoleSchema.nullable());

export const orgSettingsPatchSchema = z.strictObject({
  thresholds: orgThresholdsPatch.optional(),
  projectDefaults: projectThresholdsPatch.optional(),
  allowSelfRemoval: z.boolean().optional(),
  allowJoinRequests: z.boolean().optional(),
  defaultMemberRole: orgRoleSchema
    .exclude(['OWNER'], { error: 'OWNER is only given by an ownership transfer' })
    .optional(),
  requireApproval: z
    .strictObject({
      invites: z.boolean().optional(),
      roleChanges: z.boolean().optional(),
      removals: z.boolean().optional(),
      teamCreation: z.boolean().optional(),
      projectCreation: z.boolean().optional(),
    })
    .optional(),
  plan: planSchema.optional(),
});

export const teamSettingsPatchSchema = z.strictObject({
  thresholds: teamThresholdsPatch.optional(),
  projectDefaults: projectThresholdsPatch.optional(),
});

export const projectSettingsPatchSchema = z.strictObject({
  thresholds: projectThresholdsPatch.optional(),
  inherit: z.enum(['none', 'team', 'org']).optional(),
  onlyAssigneeCanUpdateTask: z.boolean().optional(),
});

export type OrgSettingsPatch = z.infer<typeof orgSettingsPatchSchema>;
export type TeamSettingsPatch = z.infer<typeof teamSettingsPatchSchema>;
export type ProjectSettingsPatch = z.infer<typeof projectSettingsPatchSchema>;

type ThresholdsPatch<S extends Scope> = Partial<Record<ActionOf<S>, RoleOf<S> | null>>;

/** Whether `role` may be the threshold of `action`, i.e. lies inside its [min, max]. */
export function isThresholdInRange(scope: Scope, action: string, role: string): boolean {
  const rule = ruleOf(scope, action);
  const r = rank(scope, role);
  return r >= rank(scope, rule.min) && r <= rank(scope, rule.max);
}

/** Merges a thresholds patch, collecting one error per value outside its action's range. */
function mergeThresholds<S extends Scope>(
  scope: S,
  current: Thresholds<S>,
  patch: ThresholdsPatch<S> | undefined,
  field: string,
  problems: FieldError[],
): Thresholds<S> {
  if (!patch) return current;
  const merged: Record<string, string> = { ...current } as Record<string, string>;
  for (const action of actionsOf(scope)) {
    if (!(action in patch)) continue;
    const role = patch[action];
    if (role === undefined) continue;
    if (role === null) {
      delete merged[action];
      continue;
    }
    if (!isThresholdInRange(scope, action, role)) {
      const rule = ruleOf(scope, action);
      problems.push({ path: `${field}.${action}`, message: `must be between ${rule.min} and ${rule.max}` });
      continue;
    }
    merged[action] = role;
  }
  return merged as Thresholds<S>;
}

function rejectIfAny(problems: FieldError[]): void {
  if (problems.length)
    throw errors.validation(problems, 422, 'Each threshold must lie inside its action’s system range.');
}

export function applyOrgSettingsPatch(current: OrgSettings, patch: OrgSettingsPatch): OrgSettings {
  const problems: FieldError[] = [];
  const thresholds = mergeThresholds('org', current.thresholds, patch.thresholds, 'thresholds', problems);
  const projectDefaults = mergeThresholds(
    'project',
    current.projectDefaults,
    patch.projectDefaults,
    'projectDefaults',
    problems,
  );
  rejectIfAny(problems);
  return {
    thresholds,
    projectDefaults,
    allowSelfRemoval: patch.allowSelfRemoval ?? current.allowSelfRemoval,
    allowJoinRequests: patch.allowJoinRequests ?? current.allowJoinRequests,
    defaultMemberRole: patch.defaultMemberRole ?? current.defaultMemberRole,
    requireApproval: {
      invites: patch.requireApproval?.invites ?? current.requireApproval.invites,
      roleChanges: patch.requireApproval?.roleChanges ?? current.requireApproval.roleChanges,
      removals: patch.requireApproval?.removals ?? current.requireApproval.removals,
      teamCreation: patch.requireApproval?.teamCreation ?? current.requireApproval.teamCreation,
      projectCreation: patch.requireApproval?.projectCreation ?? current.requireApproval.projectCreation,
    },
    plan: patch.plan ?? current.plan,
  };
}

export function applyTeamSettingsPatch(current: TeamSettings, patch: TeamSettingsPatch): TeamSettings {
  const problems: FieldError[] = [];
  const thresholds = mergeThresholds('team', current.thresholds, patch.thresholds, 'thresholds', problems);
  const projectDefaults = mergeThresholds(
    'project',
    current.projectDefaults,
    patch.projectDefaults,
    'projectDefaults',
    problems,
  );
  rejectIfAny(problems);
  return { thresholds, projectDefaults };
}

export function applyProjectSettingsPatch(
  current: ProjectSettings,
  patch: ProjectSettingsPatch,
): ProjectSettings {
  const problems: FieldError[] = [];
  const thresholds = mergeThresholds('project', current.thresholds, patch.thresholds, 'thresholds', problems);
  rejectIfAny(problems);
  return {
    thresholds,
    inherit: patch.inherit ?? current.inherit,
    onlyAssigneeCanUpdateTask: patch.onlyAssigneeCanUpdateTask ?? current.onlyAssigneeCanUpdateTask,
  };
}

export interface PolicySettings {
  org?: OrgSettings | undefined;
  /** null or absent: the project has no team (or team settings are not involved). */
  team?: TeamSettings | null | undefined;
  project?: ProjectSettings | undefined;
}

/** Brings a stored threshold back inside its range (older data, a changed catalogue). */
function clampToRange(scope: Scope, action: string, role: string): string {
  const rule = ruleOf(scope, action);
  const r = Math.min(Math.max(rank(scope, role), rank(scope, rule.min)), rank(scope, rule.max));
  return roleAt(scope, r);
}

/**
 * The threshold in force for an action: the explicit setting, else the catalogue default.
 * Project actions follow the project's `inherit`:
 * - `none` (or no project settings): the project's own thresholds;
 * - `team`: the team's projectDefaults, then the org's projectDefaults for actions the team left
 *   unset (and for a project without a team);
 * - `org`: the org's projectDefaults.
 * Absent settings at a level mean "nothing set there". A stored value outside its range is clamped.
 */
export function thresholdFor<S extends Scope>(
  scope: S,
  action: ActionOf<S>,
  settings: PolicySettings,
): RoleOf<S> {
  return thresholdWithSource(scope, action, settings).role;
}

/** Where a threshold in force was set: nowhere (the system default), or the org, team or project. */
export type ThresholdSource = 'system' | 'org' | 'team' | 'project';

/** thresholdFor, with the level whose setting put it in force. */
export function thresholdWithSource<S extends Scope>(
  scope: S,
  action: ActionOf<S>,
  settings: PolicySettings,
): { role: RoleOf<S>; source: ThresholdSource } {
  const rule = ruleOf(scope, action);
  const explicit = explicitThreshold(scope, action, settings);
  if (explicit === undefined) return { role: rule.default as RoleOf<S>, source: 'system' };
  return { role: clampToRange(scope, action, explicit.role) as RoleOf<S>, source: explicit.source };
}

function explicitThreshold(
  scope: Scope,
  action: string,
  settings: PolicySettings,
): { role: string; source: ThresholdSource } | undefined {
  const read = (source: ThresholdSource, thresholds: Record<string, string | undefined> | undefined) => {
    const role = thresholds?.[action];
    return role === undefined ? undefined : { role, source };
  };
  switch (scope) {
    case 'org':
      return read('org', settings.org?.thresholds);
    case 'team':
      return read('team', settings.team?.thresholds ?? undefined);
    case 'project': {
      const inherit = settings.project?.inherit ?? 'none';
      if (inherit === 'none') return read('project', settings.project?.thresholds);
      if (inherit === 'team')
        return read('team', settings.team?.projectDefaults) ?? read('org', settings.org?.projectDefaults);
      return read('org', settings.org?.projectDefaults);
    }
  }
}

/** Every action of a scope with the threshold in force (for GET settings responses). */
export function thresholdsInForce<S extends Scope>(
  scope: S,
  settings: PolicySettings,
): Record<ActionOf<S>, RoleOf<S>> {
  const result: Partial<Record<ActionOf<S>, RoleOf<S>>> = {};
  for (const action of actionsOf(scope)) result[action] = thresholdFor(scope, action, settings);
  return result as Record<ActionOf<S>, RoleOf<S>>;
}

/** Stored (possibly partial, possibly older) org settings with the defaults filled in. */
export function orgSettingsFrom(stored: Partial<OrgSettings> | null | undefined): OrgSettings {
  const defaults = defaultOrgSettings();
  return {
    ...defaults,
    ...stored,
    requireApproval: { ...defaults.requireApproval, ...stored?.requireApproval },
  };
}

export function teamSettingsFrom(stored: Partial<TeamSettings> | null | undefined): TeamSettings {
  return { ...defaultTeamSettings(), ...stored };
}

export function projectSettingsFrom(stored: Partial<ProjectSettings> | null | undefined): ProjectSettings {
  return { ...defaultProjectSettings(), ...stored };
}
