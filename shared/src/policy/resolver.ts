import { AppError } from '../http/errors.ts';
import { fixedRuleOf, isAction, isFixedAction } from './catalogue.ts';
import type { AnyActionOf } from './catalogue.ts';
import { effectiveProjectRole, effectiveRole } from './effective.ts';
import type { Memberships } from './effective.ts';
import { atLeast } from './roles.ts';
import type { Scope } from './roles.ts';
import { thresholdFor } from './settings.ts';
import type { PolicySettings } from './settings.ts';

/** Why a decision went the way it did; sent to the client as `policy` on a 403 POLICY_DENIED. */
export interface PolicyReason {
  scope: Scope;
  action: string;
  requiredRole: string;
  yourRole: string | null;
}

export interface PolicyDecision {
  allowed: boolean;
  /** The actor is the org OWNER, who passes every threshold in the org. */
  bypass: boolean;
  reason: PolicyReason;
}

export interface PolicyInput<S extends Scope> {
  scope: S;
  action: AnyActionOf<S>;
  memberships: Memberships;
  /** Needed for configurable actions; fixed ones ignore it. */
  settings?: PolicySettings;
}

/** The role an action needs: a fixed action's role, or a configurable one's threshold in force. */
export function requiredRoleFor<S extends Scope>(
  scope: S,
  action: AnyActionOf<S>,
  settings: PolicySettings = {},
): string {
  if (isFixedAction(scope, action)) return fixedRuleOf(scope, action).role;
  if (isAction(scope, action)) return thresholdFor(scope, action, settings);
  throw new Error(`"${String(action)}" is not a ${scope} action`);
}

/** The one decision: effective role + the role the action needs → allow/deny with the reason. */
export function decide<S extends Scope>(input: PolicyInput<S>): PolicyDecision {
  const { scope, action, memberships } = input;
  const decision = decideRole({
    scope,
    action,
    ...effectiveRole(scope, memberships),
    settings: input.settings,
  });
  if (decision.allowed || !isFixedAction(scope, action) || !fixedRuleOf(scope, action).orOrg) return decision;
  const org = decideRole({
    scope: 'org',
    action: action as AnyActionOf<'org'>,
    ...effectiveRole('org', memberships),
  });
  return org.allowed ? org : decision;
}

/** decide() for a caller whose effective role at the scope (and the OWNER bypass) is already known. */
export function decideRole<S extends Scope>(input: {
  scope: S;
  action: AnyActionOf<S>;
  role: string | null;
  bypass: boolean;
  settings?: PolicySettings | undefined;
}): PolicyDecision {
  const { scope, action, role, bypass } = input;
  const requiredRole = requiredRoleFor(scope, action, input.settings);
  return {
    allowed: bypass || atLeast(scope, role, requiredRole),
    bypass,
    reason: { scope, action, requiredRole, yourRole: role },
  };
}

/** Returns an allowing decision; throws 403 POLICY_DENIED carrying `policy: reason` otherwise. */
export function ensureAllowed(decision: PolicyDecision): PolicyDecision {
  if (decision.allowed) return decision;
  const { scope, action, requiredRole, yourRole } = decision.reason;
  const yours = yourRole === null ? `you have no role in this ${scope}` : `your ${scope} role is ${yourRole}`;
  throw new AppError(403, 'POLICY_DENIED', {
    detail: `The ${scope} policy for ${action} requires ${requiredRole} or higher; ${yours}.`,
    extensions: { policy: { ...decision.reason } },
  });
}

/** decideRole(), throwing 403 POLICY_DENIED when denied. */
export function authorizeRole<S extends Scope>(input: Parameters<typeof decideRole<S>>[0]): PolicyDecision {
  return ensureAllowed(decideRole(input));
}

/** decide(), throwing 403 POLICY_DENIED when denied. */
export function authorize<S extends Scope>(input: Parameters<typeof decide<S>>[0]): PolicyDecision {
  return ensureAllowed(decide(input));
}

/**
 * Creating a project (product.md §3): the org `project.create` check, and for a project inside a team
 * also the team `project.create` check — either one suffices for an org OWNER/ADMIN. A denial reports
 * the first failing check.
 */
export function decideProjectCreation(input: {
  memberships: Memberships;
  settings: PolicySettings;
  inTeam: boolean;
}): PolicyDecision {
  const { memberships, settings } = input;
  const org = decide({ scope: 'org', action: 'project.create', memberships, settings });
  if (!input.inTeam) return org;
  const team = decide({ scope: 'team', action: 'project.create', memberships, settings });
  const eitherSuffices = memberships.orgRole === 'OWNER' || memberships.orgRole === 'ADMIN';
  if (eitherSuffices) return org.allowed || !team.allowed ? org : team;
  return org.allowed ? team : org;
}

/**
 * Updating a task (product.md §8): `task.update`, or the task's creator or assignee regardless of the
 * threshold; with `onlyAssigneeCanUpdateTask` only the assignee and project MANAGER+ (reported as the
 * required role). Either way the actor needs some access to the project, and the org OWNER bypasses.
 */
export function decideTaskUpdate(input: {
  memberships: Memberships;
  settings: PolicySettings;
  isCreator: boolean;
  isAssignee: boolean;
}): PolicyDecision {
  const { role, bypass } = effectiveProjectRole(input.memberships);
  const onlyAssignee = input.settings.project?.onlyAssigneeCanUpdateTask ?? false;
  const requiredRole = onlyAssignee ? 'MANAGER' : thresholdFor('project', 'task.update', input.settings);
  const personal = role !== null && (onlyAssignee ? input.isAssignee : input.isAssignee || input.isCreator);
  return {
    allowed: bypass || personal || atLeast('project', role, requiredRole),
    bypass,
    reason: { scope: 'project', action: 'task.update', requiredRole, yourRole: role },
  };
}
