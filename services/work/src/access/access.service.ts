import type { Request } from 'express';
import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import {
  authorize,
  currentUser,
  effectiveProjectRole,
  errors,
  type Memberships,
  type OrgRole,
  type OrgSettings,
  type PolicySettings,
  type ProjectAction,
  type ProjectRole,
  type ProjectRoleSource,
  type TeamRole,
  type TeamSettings,
} from '@trellis/shared';
import {
  PROJECT_COLUMNS,
  orgSettingsOf,
  projectSettingsOf,
  teamSettingsOf,
  type ProjectRow,
} from '../models.ts';
import type { AccessMemo } from './access-memo.ts';
import type { GovernanceClient } from './governance-client.ts';
import type { ProjectionService } from './projection.service.ts';

/** Who is calling, with the bearer token the membership fallback forwards. */
export interface Caller {
  id: string;
  authorization: string | undefined;
}

export function callerOf(req: Request): Caller {
  return { id: currentUser(req).id, authorization: req.get('authorization') };
}

/** The caller inside a live org they belong to. */
export interface OrgAccess {
  orgId: string;
  role: OrgRole;
  settings: OrgSettings;
}

/** The caller on a project they can see (effective project role not null). */
export interface ProjectContext {
  project: ProjectRow;
  org: OrgAccess;
  memberships: Memberships;
  settings: PolicySettings;
  role: ProjectRole;
  source: ProjectRoleSource;
  bypass: boolean;
}

/** A project row with the caller's memberships around it (see `projectWithMemberships`). */
interface ProjectAccessRow extends ProjectRow {
  orgSettings: Partial<OrgSettings> | null;
  /** null: the projection has not seen the org. */
  orgDeleted: boolean | null;
  orgRole: OrgRole | null;
  explicitRole: ProjectRole | null;
  /** null: no team, or not a live one. */
  teamSettings: Partial<TeamSettings> | null;
  teamRole: TeamRole | null;
}

interface Lookup {
  transaction?: Transaction;
  /** Lock the project row (FOR UPDATE). */
  lock?: boolean;
  /** Also find a soft-deleted project (restore). */
  deleted?: boolean;
}

/**
 * Tenancy (product.md §1) on the projection: an org the caller does not belong to, a deleted org,
 * and anything inside either — and a project the caller has no effective role on — are all 404.
 * A membership missing from the projection is asked of governance first (architecture.md §2).
 * 403s come from the policy engine, never from comparing roles here.
 */
export class AccessService {
  private readonly sequelize: Sequelize;
  private readonly projection: ProjectionService;
  private readonly governance: GovernanceClient | undefined;
  private readonly memo: AccessMemo;

  constructor(deps: {
    sequelize: Sequelize;
    projection: ProjectionService;
    memo: AccessMemo;
    governance?: GovernanceClient;
  }) {
    this.sequelize = deps.sequelize;
    this.projection = deps.projection;
    this.memo = deps.memo;
    this.governance = deps.governance;
  }

  private async readOrg(
    orgId: string,
    userId: string,
    transaction?: Transaction,
  ): Promise<{ exists: boolean; deleted: boolean; access: OrgAccess | null }> {
    const [row] = await this.sequelize.query<{
      settings: Partial<OrgSettings>;
      deletedAt: Date | null;
      role: OrgRole | null;
    }>(
      `SELECT o.settings, o.deleted_at AS "deletedAt", m.role
         FROM orgs o LEFT JOIN org_members m ON m.org_id = o.id AND m.user_id = :userId
        WHERE o.id = :orgId`,
      { replacements: { orgId, userId }, type: QueryTypes.SELECT, transaction },
    );
    if (!row) return { exists: false, deleted: false, access: null };
    const deleted = row.deletedAt !== null;
    const access =
      !deleted && row.role ? { orgId, role: row.role, settings: orgSettingsOf(row.settings) } : null;
    return { exists: true, deleted, access };
  }

  /** The caller's membership of a live org, or null (after asking governance when unknown here). */
  async orgOrNull(
    orgId: string,
    userId: string,
    authorization: string | undefined,
    transaction?: Transaction,
  ): Promise<OrgAccess | null> {
    // Inside a transaction every read uses its connection (never a second one from the pool).
    const found = await this.readOrg(orgId, userId, transaction);
    if (found.access || found.deleted || !this.governance) return found.access;
    const snapshot = await this.governance.membership(orgId, userId, authorization);
    if (!snapshot) return null;
    await this.projection.storeSnapshot(snapshot);
    return (await this.readOrg(orgId, userId, transaction)).access;
  }

  async org(orgId: string, caller: Caller): Promise<OrgAccess> {
    const access = await this.orgOrNull(orgId, caller.id, caller.authorization);
    if (!access) throw errors.notFound('organization');
    return access;
  }

  /** A live team of the org with the user's explicit role on it, or null when no such team. */
  async team(
    orgId: string,
    teamId: string,
    userId: string,
    transaction?: Transaction,
  ): Promise<{ role: TeamRole | null; settings: TeamSettings } | null> {
    const [row] = await this.sequelize.query<{ settings: Partial<TeamSettings>; role: TeamRole | null }>(
      `SELECT t.settings, tm.role FROM teams t
         LEFT JOIN team_members tm ON tm.team_id = t.id AND tm.user_id = :userId
        WHERE t.id = :teamId AND t.org_id = :orgId AND t.deleted_at IS NULL`,
      { replacements: { orgId, teamId, userId }, type: QueryTypes.SELECT, transaction },
    );
    return row ? { role: row.role, settings: teamSettingsOf(row.settings) } : null;
  }

  /** The explicit project roles of a user in some projects. */
  private async explicitRoles(projectIds: string[], userId: string, transaction?: Transaction) {
    if (projectIds.length === 0) return new Map<string, ProjectRole>();
    const rows = await this.sequelize.query<{ projectId: string; role: ProjectRole }>(
      `SELECT project_id AS "projectId", role FROM project_members
        WHERE user_id = :userId AND project_id IN (:projectIds)`,
      { replacements: { userId, projectIds }, type: QueryTypes.SELECT, transaction },
    );
    return new Map(rows.map((r) => [r.projectId, r.role]));
  }

  /** The memberships and settings a decision on `project` needs, for one user of its org. */
  async contextFor(
    project: ProjectRow,
    org: OrgAccess,
    userId: string,
    explicit: ProjectRole | null,
    teams?: Map<string, { role: TeamRole | null; settings: TeamSettings } | null>,
    transaction?: Transaction,
  ) {
    const team = project.teamId
      ? teams && teams.has(project.teamId)
        ? teams.get(project.teamId)!
        : await this.team(project.orgId, project.teamId, userId, transaction)
      : null;
    if (project.teamId) teams?.set(project.teamId, team);
    const memberships: Memberships = {
      orgRole: org.role,
      teamRole: team?.role ?? null,
      projectRole: explicit,
      visibility: project.visibility,
      projectHasTeam: project.teamId !== null,
    };
    const settings: PolicySettings = {
      org: org.settings,
      team: team?.settings ?? null,
      project: projectSettingsOf(project.settings),
    };
    return { memberships, settings, effective: effectiveProjectRole(memberships) };
  }

  /**
   * The project and everything the caller's decision on it needs, in one round trip: the org's
   * settings and tombstone (both null while the projection has not seen the org), the caller's
   * org role, explicit project role, and the project's live team with their role on it. Scalar
   * subqueries rather than joins: PostgreSQL plans them several times faster, and every query is
   * planned afresh, so planning is most of the cost of a lookup this small.
   */
  private async projectWithMemberships(projectId: string, userId: string, lookup: Lookup) {
    const { transaction, lock = false, deleted = false } = lookup;
    const [row] = await this.sequelize.query<ProjectAccessRow>(
      `SELECT ${PROJECT_COLUMNS},
              (SELECT o.settings FROM orgs o WHERE o.id = p.org_id) AS "orgSettings",
              (SELECT o.deleted_at IS NOT NULL FROM orgs o WHERE o.id = p.org_id) AS "orgDeleted",
              (SELECT m.role FROM org_members m WHERE m.org_id = p.org_id AND m.user_id = :userId) AS "orgRole",
              (SELECT m.role FROM project_members m WHERE m.project_id = p.id AND m.user_id = :userId)
                AS "explicitRole",
              (SELECT t.settings FROM teams t WHERE t.id = p.team_id AND t.org_id = p.org_id AND t.deleted_at IS NULL)
                AS "teamSettings",
              (SELECT m.role FROM team_members m WHERE m.team_id = p.team_id AND m.user_id = :userId) AS "teamRole"
         FROM projects p
        WHERE p.id = :projectId ${deleted ? '' : 'AND p.deleted_at IS NULL'} ${lock && transaction ? 'FOR UPDATE' : ''}`,
      { replacements: { projectId, userId }, type: QueryTypes.SELECT, transaction },
    );
    return row;
  }

  /** A project the caller can see, with everything a decision on it needs; 404 otherwise. */
  async project(projectId: string, caller: Caller, lookup: Lookup = {}): Promise<ProjectContext> {
    let row = await this.projectWithMemberships(projectId, caller.id, lookup);
    if (!row) throw errors.notFound('project');
    // A member of a live org the projection knows; an org or membership it has not seen (yet) is
    // asked of governance, then read again. A deleted org hides its projects.
    const isMember = (r: ProjectAccessRow) => r.orgDeleted === false && r.orgRole !== null;
    if (!isMember(row) && row.orgDeleted !== true && this.governance) {
      const snapshot = await this.governance.membership(row.orgId, caller.id, caller.authorization);
      if (!snapshot) throw errors.notFound('project');
      await this.projection.storeSnapshot(snapshot);
      row = await this.projectWithMemberships(projectId, caller.id, lookup);
      if (!row) throw errors.notFound('project');
    }
    const { orgSettings, orgDeleted, orgRole, explicitRole, teamSettings, teamRole, ...project } = row;
    if (orgDeleted !== false || orgRole === null) throw errors.notFound('project');
    const org: OrgAccess = { orgId: project.orgId, role: orgRole, settings: orgSettingsOf(orgSettings) };
    const team = teamSettings ? { role: teamRole, settings: teamSettingsOf(teamSettings) } : null;
    const { memberships, settings, effective } = await this.contextFor(
      project,
      org,
      caller.id,
      explicitRole,
      project.teamId ? new Map([[project.teamId, team]]) : undefined,
    );
    if (effective.role === null || effective.source === null) throw errors.notFound('project');
    return {
      project,
      org,
      memberships,
      settings,
      role: effective.role,
      source: effective.source,
      bypass: effective.bypass,
    };
  }

  /**
   * `project` for a read-only check outside any transaction: a decision made for this caller
   * within the last ACCESS_CACHE_TTL_MS may be reused (see access-memo.ts). Only for access:
   * what a response shows of the project itself comes from `project`.
   */
  async projectForRead(projectId: string, caller: Caller): Promise<ProjectContext> {
    const remembered = this.memo.get(projectId, caller.id);
    if (remembered) return remembered;
    const mark = this.memo.mark();
    const context = await this.project(projectId, caller);
    this.memo.remember(mark, projectId, caller.id, context);
    return context;
  }

  /** The projects of an org the caller can see, with their effective role, in the given order. */
  async visible(
    projects: ProjectRow[],
    org: OrgAccess,
    userId: string,
  ): Promise<{ project: ProjectRow; role: ProjectRole }[]> {
    const explicit = await this.explicitRoles(
      projects.map((p) => p.id),
      userId,
    );
    const teams = new Map<string, { role: TeamRole | null; settings: TeamSettings } | null>();
    const result: { project: ProjectRow; role: ProjectRole }[] = [];
    for (const project of projects) {
      const { effective } = await this.contextFor(
        project,
        org,
        userId,
        explicit.get(project.id) ?? null,
        teams,
      );
      if (effective.role !== null) result.push({ project, role: effective.role });
    }
    return result;
  }

  /** The project policy (threshold in force), 403 POLICY_DENIED when the caller falls short. */
  authorize(context: ProjectContext, action: ProjectAction): void {
    authorize({ scope: 'project', action, memberships: context.memberships, settings: context.settings });
  }
}
