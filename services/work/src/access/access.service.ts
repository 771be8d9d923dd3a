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

  constructor(deps: { sequelize: Sequelize; projection: ProjectionService; governance?: GovernanceClient }) {
    this.sequelize = deps.sequelize;
    this.projection = deps.projection;
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

  /** A project the caller can see, with everything a decision on it needs; 404 otherwise. */
  async project(projectId: string, caller: Caller, lookup: Lookup = {}): Promise<ProjectContext> {
    const { transaction, lock = false, deleted = false } = lookup;
    const [project] = await this.sequelize.query<ProjectRow>(
      `SELECT ${PROJECT_COLUMNS} FROM projects p WHERE p.id = :projectId
         ${deleted ? '' : 'AND p.deleted_at IS NULL'} ${lock && transaction ? 'FOR UPDATE' : ''}`,
      { replacements: { projectId }, type: QueryTypes.SELECT, transaction },
    );
    if (!project) throw errors.notFound('project');
    const org = await this.orgOrNull(project.orgId, caller.id, caller.authorization, transaction);
    if (!org) throw errors.notFound('project');
    const explicit = (await this.explicitRoles([project.id], caller.id, transaction)).get(project.id) ?? null;
    const { memberships, settings, effective } = await this.contextFor(
      project,
      org,
      caller.id,
      explicit,
      undefined,
      transaction,
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
