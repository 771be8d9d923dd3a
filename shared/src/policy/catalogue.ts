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

export type OrgAction = (typeof ORG_ACTIONS)[number];
export type TeamAction = (typeof TEAM_ACTIONS)[number];
export type ProjectAction = (typeof PROJECT_ACTIONS)[number];
export type ActionOf<S extends Scope> = S extends 'org'
  ? OrgAction
  : S extends 'team'
    ? TeamAction
    : ProjectAction;

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

/** The rule of one action; an action outside the catalogue is a programmer error. */
export function ruleOf(scope: Scope, action: string): ActionRule {
  if (!isAction(scope, action)) throw new Error(`"${action}" is not a ${scope} action`);
  return (ACTION_RULES[scope] as Record<string, ActionRule>)[action] as ActionRule;
}
