import { catalogue, fixedRuleOf, isAction, type AnyActionOf, type CatalogueEntry } from './catalogue.ts';
import { effectiveProjectRole, type Memberships, type ProjectRoleSource } from './effective.ts';
import { decide } from './resolver.ts';
import type { Scope } from './roles.ts';
import { thresholdWithSource, type PolicySettings, type ThresholdSource } from './settings.ts';

// The rule book read back (GET /orgs/{id}/policy and its explain): what every action needs under some
// settings, and why one user may or may not do one thing — computed by the same functions that decide.

/** One action as it stands under some settings. */
export interface RuleBookEntry extends CatalogueEntry {
  /** The role the action needs now. */
  threshold: string;
  /** Where that comes from: the system (default or fixed), or the org's, team's or project's settings. */
  source: ThresholdSource;
}

function inForce(scope: Scope, action: string, settings: PolicySettings) {
  if (isAction(scope, action)) return thresholdWithSource(scope, action, settings);
  return { role: fixedRuleOf(scope, action).role, source: 'system' as const };
}

/** Every catalogue action with the threshold in force under `settings`. */
export function ruleBook(settings: PolicySettings): RuleBookEntry[] {
  return catalogue().map((entry) => {
    const { role, source } = inForce(entry.scope, entry.action, settings);
    return { ...entry, threshold: role, source };
  });
}

/** The scopes that define an action of this name (`member.add` is a team and a project action). */
export function scopesOfAction(action: string): Scope[] {
  return [
    ...new Set(
      catalogue()
        .filter((e) => e.action === action)
        .map((e) => e.scope),
    ),
  ];
}

export interface Explanation {
  scope: Scope;
  action: string;
  allowed: boolean;
  requiredRole: string;
  effectiveRole: string | null;
  /** Where requiredRole comes from. */
  source: ThresholdSource;
  /** For a project action: where the effective role comes from (explicit, team or org). */
  roleSource: ProjectRoleSource | null;
  /** The org OWNER passes every rule of the org. */
  bypass: boolean;
}

/** decide(), told as an answer to "why (not)?". */
export function explain<S extends Scope>(input: {
  scope: S;
  action: AnyActionOf<S>;
  memberships: Memberships;
  settings: PolicySettings;
}): Explanation {
  const { scope, action } = input;
  const decision = decide(input);
  const granted = decision.reason.scope !== scope; // a fixed action an org-scope decision allowed
  const { source } = inForce(decision.reason.scope, action, input.settings);
  return {
    scope: decision.reason.scope,
    action,
    allowed: decision.allowed,
    requiredRole: decision.reason.requiredRole,
    effectiveRole: decision.reason.yourRole,
    source,
    roleSource: scope === 'project' && !granted ? effectiveProjectRole(input.memberships).source : null,
    bypass: decision.bypass,
  };
}
