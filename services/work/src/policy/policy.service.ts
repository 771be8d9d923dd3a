// The rule book read back (GET /orgs/{id}/policy): every action with the threshold in force, and
// `explain`, one user's decision on one action — by the same shared functions every service decides with.
import {
  authorize,
  catalogue,
  errors,
  explain,
  ruleBook,
  scopesOfAction,
  type AnyActionOf,
  type Memberships,
  type PolicySettings,
  type Scope,
} from '@trellis/shared';
import type { AccessService, Caller, OrgAccess, ProjectContext } from '../access/access.service.ts';
import type { ExplainQuery, ExplanationView, RuleBookQuery, RuleBookView } from './policy.schemas.ts';

/** Where in the org a decision is read: the caller's view of it (what they cannot see is 404). */
interface Place {
  org: OrgAccess;
  teamId: string | null;
  project: ProjectContext | null;
  settings: PolicySettings;
}

export class PolicyService {
  private readonly access: AccessService;

  constructor(deps: { access: AccessService }) {
    this.access = deps.access;
  }

  /** Any member may read the rule book of their org (and of a team or project they can see). */
  async ruleBook(caller: Caller, orgId: string, query: RuleBookQuery): Promise<RuleBookView> {
    const place = await this.place(caller, orgId, query);
    return {
      orgId,
      teamId: place.teamId,
      projectId: place.project?.project.id ?? null,
      items: ruleBook(place.settings),
    };
  }

  /** A member's own decisions; anyone else's needs the org's `policy.explain` (ADMIN). */
  async explain(caller: Caller, orgId: string, query: ExplainQuery): Promise<ExplanationView> {
    const place = await this.place(caller, orgId, query);
    const userId = query.userId ?? caller.id;
    if (userId !== caller.id)
      authorize({ scope: 'org', action: 'policy.explain', memberships: { orgRole: place.org.role } });
    const scope = scopeOf(query, place);
    const memberships = await this.membershipsOf(userId, caller, place, scope);
    const action = query.action as AnyActionOf<Scope>;
    return { userId, ...explain({ scope, action, memberships, settings: place.settings }) };
  }

  private async place(caller: Caller, orgId: string, query: RuleBookQuery): Promise<Place> {
    const org = await this.access.org(orgId, caller);
    if (query.projectId) {
      const project = await this.access.project(query.projectId, caller);
      if (project.project.orgId !== orgId) throw errors.notFound('project');
      if (query.teamId && query.teamId !== project.project.teamId)
        throw errors.validation([{ path: 'teamId', message: 'The project is not in this team' }], 422);
      return { org, teamId: project.project.teamId, project, settings: project.settings };
    }
    if (query.teamId) {
      const team = await this.access.teamOfCaller(orgId, query.teamId, caller);
      if (!team) throw errors.notFound('team');
      return {
        org,
        teamId: query.teamId,
        project: null,
        settings: { org: org.settings, team: team.settings },
      };
    }
    return { org, teamId: null, project: null, settings: { org: org.settings } };
  }

  /** The memberships of `userId` that a decision at `scope` reads; none outside the org. */
  private async membershipsOf(
    userId: string,
    caller: Caller,
    place: Place,
    scope: Scope,
  ): Promise<Memberships> {
    const org =
      userId === caller.id
        ? place.org
        : await this.access.orgOrNull(place.org.orgId, userId, caller.authorization);
    if (!org) return { orgRole: null };
    if (scope === 'project' && place.project) {
      const { project } = place.project;
      const explicit = await this.access.explicitRole(project.id, userId);
      const orgOfUser = { ...org, settings: place.org.settings };
      return (await this.access.contextFor(project, orgOfUser, userId, explicit)).memberships;
    }
    if (scope === 'team' && place.teamId) {
      const team = await this.access.team(place.org.orgId, place.teamId, userId);
      return { orgRole: org.role, teamRole: team?.role ?? null };
    }
    return { orgRole: org.role };
  }
}

/**
 * The scope the action is decided at: the one that defines it, or — for a name several scopes define
 * (`member.add`, `settings.update`) — `scope` if given, else the project's or team's when one is named.
 */
function scopeOf(query: ExplainQuery, place: Place): Scope {
  const scopes = scopesOfAction(query.action);
  if (scopes.length === 0)
    throw errors.validation(
      [{ path: 'action', message: `Not an action of the rule book (one of ${actionNames()})` }],
      422,
    );
  const wanted =
    query.scope ??
    (scopes.length === 1
      ? scopes[0]!
      : place.project && scopes.includes('project')
        ? 'project'
        : place.teamId && scopes.includes('team')
          ? 'team'
          : scopes.includes('org')
            ? 'org'
            : scopes[0]!);
  if (!scopes.includes(wanted))
    throw errors.validation(
      [{ path: 'scope', message: `${query.action} is a ${scopes.join(' or ')} action` }],
      422,
    );
  if (wanted === 'project' && !place.project)
    throw errors.validation([{ path: 'projectId', message: 'A project action needs the project' }], 422);
  if (wanted === 'team' && !place.teamId)
    throw errors.validation([{ path: 'teamId', message: 'A team action needs the team' }], 422);
  return wanted;
}

function actionNames(): string {
  return [...new Set(catalogue().map((e) => e.action))].join(', ');
}
