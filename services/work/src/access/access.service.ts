import type { Request } from 'express';
import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import {
  AppError,
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
  type TeamRole,
  type TeamSettings,
} from '@trellis/shared';
import {
  PROJECT_COLUMNS,
  TASK_COLUMNS_PREFIXED,
  orgSettingsOf,
  projectSettingsOf,
  takeTaskRow,
  teamSettingsOf,
  type ProjectRow,
  type TaskRow,
} from '../models.ts';
import type { PreparedStatements } from '../prepared.ts';
import type { AccessMemo } from './access-memo.ts';
import type { OrgAccess, ProjectContext } from './access.context.ts';

export type { OrgAccess, ProjectContext } from './access.context.ts';
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

/** A lookup by task: the task row comes back too, locked FOR UPDATE. */
interface TaskLookup {
  transaction: Transaction;
  /** Also find a soft-deleted task (restore); its project must still be live. */
  deleted?: boolean;
}

/** What a lookup starts from: a project, or a task (then the task's project). */
type Subject = { projectId: string; lookup: Lookup } | { taskId: string; lookup: TaskLookup };

/**
 * Tenancy (product.md §1) on the projection: an org the caller does not belong to, a deleted org,
 * and anything inside either — and a project the caller has no effective role on — are all 404.
 * A membership missing from the projection is asked of governance first (architecture.md §2).
 * 403s come from the policy engine, never from comparing roles here.
 */
export class AccessService {
  private readonly sequelize: Sequelize;
  private readonly statements: PreparedStatements;
  private readonly projection: ProjectionService;
  private readonly governance: GovernanceClient | undefined;
  private readonly memo: AccessMemo;

  constructor(deps: {
    sequelize: Sequelize;
    statements: PreparedStatements;
    projection: ProjectionService;
    memo: AccessMemo;
    governance?: GovernanceClient;
  }) {
    this.sequelize = deps.sequelize;
    this.statements = deps.statements;
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

  /**
   * `team`, asking governance once when the projection has not seen the team (just created: the
   * event still in flight): the caller's membership snapshot carries the teams they belong to.
   */
  async teamOfCaller(
    orgId: string,
    teamId: string,
    caller: Caller,
  ): Promise<{ role: TeamRole | null; settings: TeamSettings } | null> {
    const found = await this.team(orgId, teamId, caller.id);
    if (found || !this.governance) return found;
    const snapshot = await this.governance.membership(orgId, caller.id, caller.authorization);
    if (!snapshot) return null;
    await this.projection.storeSnapshot(snapshot);
    return this.team(orgId, teamId, caller.id);
  }

  /** A user's explicit role on one project, or null. */
  async explicitRole(projectId: string, userId: string): Promise<ProjectRole | null> {
    return (await this.explicitRoles([projectId], userId)).get(projectId) ?? null;
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
   * subqueries rather than joins: PostgreSQL plans them several times faster. A prepared statement
   * (a handful of texts), so once warm it is neither parsed nor planned again. Looked up by task,
   * the task's row comes in the same round trip, locked: what every task write starts with.
   */
  private async projectWithMemberships(subject: Subject, userId: string) {
    const { transaction, deleted = false } = subject.lookup;
    const byTask = 'taskId' in subject;
    const where = byTask
      ? `t.id = $id ${deleted ? '' : 'AND t.deleted_at IS NULL'} AND p.deleted_at IS NULL FOR UPDATE OF t`
      : `p.id = $id ${deleted ? '' : 'AND p.deleted_at IS NULL'} ${subject.lookup.lock && transaction ? 'FOR UPDATE' : ''}`;
    const [row] = await this.statements.query<ProjectAccessRow>(
      `SELECT ${PROJECT_COLUMNS},
              (SELECT o.settings FROM orgs o WHERE o.id = p.org_id) AS "orgSettings",
              (SELECT o.deleted_at IS NOT NULL FROM orgs o WHERE o.id = p.org_id) AS "orgDeleted",
              (SELECT m.role FROM org_members m WHERE m.org_id = p.org_id AND m.user_id = $userId) AS "orgRole",
              (SELECT m.role FROM project_members m WHERE m.project_id = p.id AND m.user_id = $userId)
                AS "explicitRole",
              (SELECT tm.settings FROM teams tm WHERE tm.id = p.team_id AND tm.org_id = p.org_id
                  AND tm.deleted_at IS NULL) AS "teamSettings",
              (SELECT m.role FROM team_members m WHERE m.team_id = p.team_id AND m.user_id = $userId) AS "teamRole"
              ${byTask ? `, ${TASK_COLUMNS_PREFIXED}` : ''}
         FROM projects p ${byTask ? 'JOIN tasks t ON t.project_id = p.id' : ''}
        WHERE ${where}`,
      { id: byTask ? subject.taskId : subject.projectId, userId },
      transaction,
    );
    return row;
  }

  /** A project the caller can see, with everything a decision on it needs; 404 otherwise. */
  async project(projectId: string, caller: Caller, lookup: Lookup = {}): Promise<ProjectContext> {
    return (await this.decide({ projectId, lookup }, caller)).context;
  }

  /**
   * A task, locked FOR UPDATE, with the caller's context on its project, in one round trip: what
   * every task write starts with. 404 `task` when the task is missing or its project out of reach.
   */
  async task(
    taskId: string,
    caller: Caller,
    lookup: TaskLookup,
  ): Promise<{ task: TaskRow; context: ProjectContext }> {
    const { task, context } = await this.decide({ taskId, lookup }, caller);
    return { task: task!, context };
  }

  private async decide(subject: Subject, caller: Caller) {
    const notFound = () => errors.notFound('taskId' in subject ? 'task' : 'project');
    let row = await this.projectWithMemberships(subject, caller.id);
    if (!row) throw notFound();
    // A member of a live org the projection knows; an org or membership it has not seen (yet) is
    // asked of governance, then read again. A deleted org hides its projects.
    const isMember = (r: ProjectAccessRow) => r.orgDeleted === false && r.orgRole !== null;
    if (!isMember(row) && row.orgDeleted !== true && this.governance) {
      const snapshot = await this.governance.membership(row.orgId, caller.id, caller.authorization);
      if (!snapshot) throw notFound();
      await this.projection.storeSnapshot(snapshot);
      row = await this.projectWithMemberships(subject, caller.id);
      if (!row) throw notFound();
    }
    const task = 'taskId' in subject ? takeTaskRow(row as unknown as Record<string, unknown>) : undefined;
    const { orgSettings, orgDeleted, orgRole, explicitRole, teamSettings, teamRole, ...project } = row;
    if (orgDeleted !== false || orgRole === null) throw notFound();
    const org: OrgAccess = { orgId: project.orgId, role: orgRole, settings: orgSettingsOf(orgSettings) };
    const team = teamSettings ? { role: teamRole, settings: teamSettingsOf(teamSettings) } : null;
    const { memberships, settings, effective } = await this.contextFor(
      project,
      org,
      caller.id,
      explicitRole,
      project.teamId ? new Map([[project.teamId, team]]) : undefined,
    );
    if (effective.role === null || effective.source === null) throw notFound();
    const context: ProjectContext = {
      project,
      org,
      memberships,
      settings,
      role: effective.role,
      source: effective.source,
      bypass: effective.bypass,
    };
    return { task, context };
  }

  /**
   * Another user's effective role on a project (an assignee's), or null when they have none: the
   * same lookup and rules as `project`, membership fallback included (with the caller's token).
   */
  async roleOf(projectId: string, userId: string, caller: Caller, transaction: Transaction) {
    try {
      const user = { id: userId, authorization: caller.authorization };
      return (await this.project(projectId, user, { transaction })).role;
    } catch (err) {
      if (err instanceof AppError && err.status === 404) return null;
      throw err;
    }
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
