import type { Scope } from './roles.ts';

/** The configurable actions of product.md §3, per scope. */
export const ORG_ACTIONS = [
  'member.invite',
  'member.updateRole',
  'member.remove',
  'team.create',
  'project.create',
  'announcement.post',
  'approval.decide',
  'audit.read',
  'webhook.manage',
] as const;
export const TEAM_ACTIONS = ['member.add', 'member.updateRole', 'member.remove', 'project.create'] as const;
export const PROJECT_ACTIONS = [
  'member.add',
  'member.updateRole',
  'member.remove',
  'task.create',
  'task.update',
  'task.delete',
  'sprint.manage',
  'comment.create',
  'comment.moderate',
] as const;

/**
 * The operations whose role the product fixes (product.md §2–§4, §9, api.md): no setting changes them,
 * but they are decided and denied like the thresholds above, so this catalogue is the whole rule book.
 * `orOrg`: an org-scope decision of the same action allows it too (team settings: team OWNER or org ADMIN+).
 */
export const FIXED_ACTION_RULES = {
  org: {
    'org.update': { role: 'ADMIN' },
    'org.delete': { role: 'OWNER' },
    'org.transferOwnership': { role: 'OWNER' },
    'settings.update': { role: 'ADMIN' },
    'announcement.update': { role: 'ADMIN' },
    'announcement.delete': { role: 'ADMIN' },
    'announcement.readReceipts': { role: 'ADMIN' },
    'message.post': { role: 'MEMBER' },
    'policy.explain': { role: 'ADMIN' },
  },
  team: {
    'team.update': { role: 'MANAGER' },
    'team.delete': { role: 'MANAGER' },
    'team.transferOwnership': { role: 'OWNER' },
    'settings.update': { role: 'OWNER', orOrg: true },
    'message.post': { role: 'MEMBER' },
  },
  project: {
    'project.update': { role: 'MANAGER' },
    'project.delete': { role: 'MANAGER' },
    'project.restore': { role: 'MANAGER' },
    'project.transferOwnership': { role: 'OWNER' },
    'settings.update': { role: 'MANAGER' },
    'task.beAssigned': { role: 'CONTRIBUTOR' },
    'message.post': { role: 'CONTRIBUTOR' },
  },
} as const satisfies Record<Scope, Record<string, FixedRule>>;

export interface FixedRule {
  role: string;
  orOrg?: boolean;
}

export type OrgAction = (typeof ORG_ACTIONS)[number];
export type TeamAction = (typeof TEAM_ACTIONS)[number];
export type ProjectAction = (typeof PROJECT_ACTIONS)[number];
/** The configurable actions of a scope (the ones settings may set). */
export type ActionOf<S extends Scope> = S extends 'org'
  ? OrgAction
  : S extends 'team'
    ? TeamAction
    : ProjectAction;
export type FixedActionOf<S extends Scope> = keyof (typeof FIXED_ACTION_RULES)[S] & string;
/** Every action of a scope, configurable or fixed. */
export type AnyActionOf<S extends Scope> = ActionOf<S> | FixedActionOf<S>;

/** A threshold may be set anywhere in [min, max]; `default` applies until it is. */
export interface ActionRule {
  min: string;
  max: string;
  default: string;
}

/** product.md §3, verbatim. */
export const ACTION_RULES: {
  org: Record<OrgAction, ActionRule>;
  team: Record<TeamAction, ActionRule>;
  project: Record<ProjectAction, ActionRule>;
} = {
  org: {
    'member.invite': { min: 'MANAGER', max: 'OWNER', default: 'ADMIN' },
    'member.updateRole': { min: 'ADMIN', max: 'OWNER', default: 'ADMIN' },
    'member.remove': { min: 'ADMIN', max: 'OWNER', default: 'ADMIN' },
    'team.create': { min: 'MEMBER', max: 'OWNER', default: 'ADMIN' },
    'project.create': { min: 'MEMBER', max: 'OWNER', default: 'ADMIN' },
    'announcement.post': { min: 'MEMBER', max: 'OWNER', default: 'ADMIN' },
    'approval.decide': { min: 'ADMIN', max: 'OWNER', default: 'ADMIN' },
    'audit.read': { min: 'ADMIN', max: 'OWNER', default: 'ADMIN' },
    'webhook.manage': { min: 'ADMIN', max: 'OWNER', default: 'ADMIN' },
  },
  team: {
    'member.add': { min: 'LEAD', max: 'OWNER', default: 'MANAGER' },
    'member.updateRole': { min: 'MANAGER', max: 'OWNER', default: 'MANAGER' },
    'member.remove': { min: 'MANAGER', max: 'OWNER', default: 'MANAGER' },
    'project.create': { min: 'MEMBER', max: 'OWNER', default: 'MANAGER' },
  },
  project: {
    'member.add': { min: 'LEAD', max: 'OWNER', default: 'MANAGER' },
    'member.updateRole': { min: 'MANAGER', max: 'OWNER', default: 'MANAGER' },
    'member.remove': { min: 'MANAGER', max: 'OWNER', default: 'MANAGER' },
    'task.create': { min: 'CONTRIBUTOR', max: 'MANAGER', default: 'CONTRIBUTOR' },
    'task.update': { min: 'CONTRIBUTOR', max: 'MANAGER', default: 'CONTRIBUTOR' },
    'task.delete': { min: 'LEAD', max: 'OWNER', default: 'MANAGER' },
    'sprint.manage': { min: 'LEAD', max: 'OWNER', default: 'LEAD' },
    'comment.create': { min: 'VIEWER', max: 'MANAGER', default: 'CONTRIBUTOR' },
    'comment.moderate': { min: 'LEAD', max: 'OWNER', default: 'MANAGER' },
  },
};

const ACTIONS: Record<Scope, readonly string[]> = {
  org: ORG_ACTIONS,
  team: TEAM_ACTIONS,
  project: PROJECT_ACTIONS,
};

/** The actions of a scope, in catalogue order. */
export function actionsOf<S extends Scope>(scope: S): readonly ActionOf<S>[] {
  return ACTIONS[scope] as readonly ActionOf<S>[];
}

export function isAction<S extends Scope>(scope: S, action: unknown): action is ActionOf<S> {
  return typeof action === 'string' && ACTIONS[scope].includes(action);
}

export function isFixedAction<S extends Scope>(scope: S, action: unknown): action is FixedActionOf<S> {
  return typeof action === 'string' && Object.hasOwn(FIXED_ACTION_RULES[scope], action);
}

/** A fixed action's rule; an action outside the catalogue is a programmer error. */
export function fixedRuleOf(scope: Scope, action: string): FixedRule {
  if (!isFixedAction(scope, action)) throw new Error(`"${action}" is not a fixed ${scope} action`);
  return (FIXED_ACTION_RULES[scope] as Record<string, FixedRule>)[action] as FixedRule;
}

/** One line of the rule book: an action, its scope, and the role it needs by default (or always). */
export interface CatalogueEntry {
  scope: Scope;
  action: string;
  configurable: boolean;
  /** Configurable: the system range and default; fixed: min = max = default = the role. */
  min: string;
  max: string;
  default: string;
  /** Fixed actions an org-scope decision of the same name also allows. */
  orOrg?: boolean;
}

/** The whole catalogue, per scope configurable actions first, in a stable order. */
export function catalogue(): readonly CatalogueEntry[] {
  return CATALOGUE;
}

function listCatalogue(): CatalogueEntry[] {
  const entries: CatalogueEntry[] = [];
  for (const scope of ['org', 'team', 'project'] as const) {
    for (const action of ACTIONS[scope])
      entries.push({ scope, action, configurable: true, ...ruleOf(scope, action) });
    for (const [action, rule] of Object.entries(FIXED_ACTION_RULES[scope]) as [string, FixedRule][])
      entries.push({
        scope,
        action,
        configurable: false,
        min: rule.role,
        max: rule.role,
        default: rule.role,
        ...(rule.orOrg ? { orOrg: true } : {}),
      });
  }
  return entries;
}

/** The rule of one action; an action outside the catalogue is a programmer error. */
export function ruleOf(scope: Scope, action: string): ActionRule {
  if (!isAction(scope, action)) throw new Error(`"${action}" is not a ${scope} action`);
  return (ACTION_RULES[scope] as Record<string, ActionRule>)[action] as ActionRule;
}

const CATALOGUE: readonly CatalogueEntry[] = Object.freeze(listCatalogue());
