import { randomUUID } from 'node:crypto';
import { QueryTypes, UniqueConstraintError, type Sequelize, type Transaction } from 'sequelize';
import { z } from 'zod';
import {
  applyProjectSettingsPatch,
  assertWithinPlanLimit,
  checkGrantedRole,
  checkRemoval,
  checkRoleChange,
  decideProjectCreation,
  decodeCursor,
  effectiveProjectRole,
  ensureAllowed,
  errors,
  formerOwnerRole,
  pageOf,
  thresholdsInForce,
  withinRestoreWindow,
  workEvents,
  type OrgRole,
  type PgOutbox,
  type ProjectRole,
  type ProjectSettingsPatch,
  type TeamRole,
  requireRole,
} from '@trellis/shared';
import { type AccessService, type Caller, type ProjectContext } from '../access/access.service.ts';
import { workEvent } from '../events/outgoing.ts';
import { PROJECT_COLUMNS, ifMatchPasses, projectSettingsOf, type ProjectRow } from '../models.ts';
import type {
  CreateProjectBody,
  ProjectListQuery,
  ProjectMemberView,
  ProjectView,
  UpdateProjectBody,
} from './projects.schemas.ts';
import { projectData, toProjectView } from './projects.views.ts';

/** Restore window of product.md §1. */
const pageCursor = z.object({ createdAt: z.string(), id: z.uuid() });
const memberCursor = z.object({ userId: z.uuid() });

export type CreatedProject = ProjectView | { project: ProjectView; approval: { state: 'PENDING' } };

export function isPendingProject(
  created: CreatedProject,
): created is { project: ProjectView; approval: { state: 'PENDING' } } {
  return 'approval' in created;
}

/** Projects, their members and settings (product.md §8, api.md §4). */
export class ProjectService {
  private readonly sequelize: Sequelize;
  private readonly outbox: PgOutbox;
  private readonly access: AccessService;

  constructor(deps: { sequelize: Sequelize; outbox: PgOutbox; access: AccessService }) {
    this.sequelize = deps.sequelize;
    this.outbox = deps.outbox;
    this.access = deps.access;
  }

  private async reload(id: string, transaction: Transaction): Promise<ProjectRow> {
    const [row] = await this.sequelize.query<ProjectRow>(
      `SELECT ${PROJECT_COLUMNS} FROM projects p WHERE p.id = :id`,
      { replacements: { id }, type: QueryTypes.SELECT, transaction },
    );
    if (!row) throw errors.notFound('project');
    return row;
  }

  async create(caller: Caller, body: CreateProjectBody): Promise<CreatedProject> {
    const org = await this.access.org(body.orgId, caller);
    const teamId = body.teamId ?? null;
    const team = teamId ? await this.access.team(org.orgId, teamId, caller.id) : null;
    if (teamId && !team) throw errors.notFound('team');
    const decision = ensureAllowed(
      decideProjectCreation({
        memberships: { orgRole: org.role, teamRole: team?.role ?? null },
        settings: { org: org.settings, team: team?.settings ?? null },
        inTeam: teamId !== null,
      }),
    );
    // The org OWNER's own projects never wait for an approval (they would approve them anyway).
    const pending = org.settings.requireApproval.projectCreation && !decision.bypass;
    const id = randomUUID();
    try {
      const project = await this.sequelize.transaction(async (transaction) => {
        // Serialise creations in one org so the plan limit and the key check hold.
        await this.sequelize.query(`SELECT id FROM orgs WHERE id = :orgId FOR UPDATE`, {
          replacements: { orgId: org.orgId },
          transaction,
        });
        const [{ count }] = (await this.sequelize.query<{ count: number }>(
          `SELECT count(*)::int AS count FROM projects WHERE org_id = :orgId AND deleted_at IS NULL`,
          { replacements: { orgId: org.orgId }, type: QueryTypes.SELECT, transaction },
        )) as [{ count: number }];
        assertWithinPlanLimit(org.settings.plan, 'projects', count);
        await this.assertKeyFree(org.orgId, body.key, transaction);
        await this.sequelize.query(
          `INSERT INTO projects (id, org_id, team_id, name, key, description, status, visibility, owner_id)
           VALUES (:id, :orgId, :teamId, :name, :key, :description, :status, :visibility, :ownerId)`,
          {
            replacements: {
              id,
              orgId: org.orgId,
              teamId,
              name: body.name,
              key: body.key,
              description: body.description ?? null,
              status: pending ? 'PENDING_APPROVAL' : 'ACTIVE',
              visibility: body.visibility ?? 'ORG',
              ownerId: caller.id,
            },
            transaction,
          },
        );
        await this.sequelize.query(
          `INSERT INTO project_members (project_id, user_id, role) VALUES (:id, :userId, 'OWNER');
           INSERT INTO task_counters (project_id) VALUES (:id);`,
          { replacements: { id, userId: caller.id }, transaction },
        );
        const row = await this.reload(id, transaction);
        const meta = { orgId: org.orgId, actorId: caller.id, subjectId: id };
        await this.outbox.add(transaction, [
          workEvent(workEvents.projectCreated, { ...meta, data: projectData(row) }),
          ...(pending
            ? [
                workEvent(workEvents.projectApprovalRequested, {
                  ...meta,
                  data: {
                    projectId: id,
                    orgId: org.orgId,
                    teamId,
                    name: row.name,
                    key: row.key,
                    requestedBy: caller.id,
                  },
                }),
              ]
            : []),
        ]);
        return row;
      });
      const view = toProjectView(project, 'OWNER');
      return pending ? { project: view, approval: { state: 'PENDING' } } : view;
    } catch (err) {
      if (err instanceof UniqueConstraintError) throw keyTaken(body.key);
      throw err;
    }
  }

  private async assertKeyFree(orgId: string, key: string, transaction: Transaction, exceptId?: string) {
    const taken = await this.sequelize.query(
      `SELECT 1 FROM projects WHERE org_id = :orgId AND key = :key AND deleted_at IS NULL
          AND id <> :exceptId`,
      {
        replacements: { orgId, key, exceptId: exceptId ?? '00000000-0000-0000-0000-000000000000' },
        type: QueryTypes.SELECT,
        transaction,
      },
    );
    if (taken.length) throw keyTaken(key);
  }

  /** The projects the caller can see, oldest first, across their orgs or in one. */
  async list(caller: Caller, query: ProjectListQuery) {
    const orgIds = query.orgId
      ? [query.orgId]
      : (
          await this.sequelize.query<{ orgId: string }>(
            `SELECT m.org_id AS "orgId" FROM org_members m JOIN orgs o ON o.id = m.org_id
              WHERE m.user_id = :userId AND o.deleted_at IS NULL`,
            { replacements: { userId: caller.id }, type: QueryTypes.SELECT },
          )
        ).map((r) => r.orgId);
    const after = query.cursor ? decodeCursor(query.cursor, pageCursor) : null;
    const visible: { project: ProjectRow; role: ProjectRole }[] = [];
    for (const orgId of orgIds) {
      const org = await this.access.orgOrNull(orgId, caller.id, caller.authorization);
      if (!org) continue;
      const rows = await this.sequelize.query<ProjectRow>(
        `SELECT ${PROJECT_COLUMNS} FROM projects p
          WHERE p.org_id = :orgId AND p.deleted_at IS NULL
            ${query.teamId ? 'AND p.team_id = :teamId' : ''} ${query.status ? 'AND p.status = :status' : ''}
            ${after ? 'AND (p.created_at, p.id) > (:createdAt::timestamptz, :id)' : ''}
          ORDER BY p.created_at, p.id`,
        {
          replacements: { orgId, teamId: query.teamId, status: query.status, ...after },
          type: QueryTypes.SELECT,
        },
      );
      visible.push(...(await this.access.visible(rows, org, caller.id)));
    }
    visible.sort(
      (a, b) =>
        a.project.createdAt.getTime() - b.project.createdAt.getTime() ||
        a.project.id.localeCompare(b.project.id),
    );
    return pageOf(
      visible.slice(0, query.limit + 1),
      query.limit,
      (v) => toProjectView(v.project, v.role),
      (v) => ({ createdAt: v.project.createdAt.toISOString(), id: v.project.id }),
    );
  }

  async get(caller: Caller, id: string): Promise<ProjectView> {
    const context = await this.access.project(id, caller);
    return toProjectView(context.project, context.role);
  }

  async update(caller: Caller, id: string, body: UpdateProjectBody, ifMatch?: string): Promise<ProjectView> {
    try {
      return await this.sequelize.transaction(async (transaction) => {
        const context = await this.access.project(id, caller, { transaction, lock: true });
        requireRole('project', 'project.update', context.role, 'MANAGER', context.bypass);
        const { project } = context;
        if (!ifMatchPasses(ifMatch, project)) throw errors.preconditionFailed();
        if (project.status === 'PENDING_APPROVAL' && body.status !== undefined)
          throw errors.conflict('The project is waiting for approval; its status cannot change yet.');
        if (body.teamId && !(await this.access.team(project.orgId, body.teamId, caller.id, transaction)))
          throw errors.validation([{ path: 'teamId', message: 'No such team in this organization' }], 422);
        await this.sequelize.query(
          `UPDATE projects SET name = :name, description = :description, status = :status,
                  team_id = :teamId, visibility = :visibility, version = version + 1, updated_at = now()
            WHERE id = :id`,
          {
            replacements: {
              id,
              name: body.name ?? project.name,
              description: body.description === undefined ? project.description : body.description,
              status: body.status ?? project.status,
              teamId: body.teamId === undefined ? project.teamId : body.teamId,
              visibility: body.visibility ?? project.visibility,
            },
            transaction,
          },
        );
        const row = await this.reload(id, transaction);
        await this.outbox.add(
          transaction,
          workEvent(workEvents.projectUpdated, {
            orgId: row.orgId,
            actorId: caller.id,
            subjectId: id,
            data: projectData(row),
          }),
        );
        return this.viewFor(caller, row, context);
      });
    } catch (err) {
      if (err instanceof UniqueConstraintError) throw errors.conflict('Conflicting change');
      throw err;
    }
  }

  /** The caller's role after a change (team or visibility may have moved it). */
  private async viewFor(caller: Caller, row: ProjectRow, before: ProjectContext): Promise<ProjectView> {
    const { effective } = await this.access.contextFor(
      row,
      before.org,
      caller.id,
      before.memberships.projectRole ?? null,
    );
    return toProjectView(row, effective.role ?? before.role);
  }

  async remove(caller: Caller, id: string): Promise<void> {
    await this.sequelize.transaction(async (transaction) => {
      const context = await this.access.project(id, caller, { transaction, lock: true });
      requireRole('project', 'project.delete', context.role, 'MANAGER', context.bypass);
      await this.sequelize.query(
        `UPDATE projects SET deleted_at = now(), updated_at = now(), version = version + 1 WHERE id = :id`,
        { replacements: { id }, transaction },
      );
      await this.outbox.add(
        transaction,
        workEvent(workEvents.projectDeleted, {
          orgId: context.project.orgId,
          actorId: caller.id,
          subjectId: id,
          data: { projectId: id, orgId: context.project.orgId },
        }),
      );
    });
  }

  async restore(caller: Caller, id: string): Promise<ProjectView> {
    return this.sequelize.transaction(async (transaction) => {
      const context = await this.access.project(id, caller, { transaction, lock: true, deleted: true });
      const { project } = context;
      if (!project.deletedAt) throw errors.conflict('The project is not deleted.');
      if (!withinRestoreWindow(project.deletedAt)) throw errors.notFound('project');
      requireRole('project', 'project.restore', context.role, 'MANAGER', context.bypass);
      await this.assertKeyFree(project.orgId, project.key, transaction, id);
      await this.sequelize.query(
        `UPDATE projects SET deleted_at = NULL, updated_at = now(), version = version + 1 WHERE id = :id`,
        { replacements: { id }, transaction },
      );
      const row = await this.reload(id, transaction);
      await this.outbox.add(
        transaction,
        workEvent(workEvents.projectRestored, {
          orgId: row.orgId,
          actorId: caller.id,
          subjectId: id,
          data: projectData(row),
        }),
      );
      return toProjectView(row, context.role);
    });
  }

  /**
   * governance decided a `project.create` approval: APPROVED activates the waiting project,
   * REJECTED or FAILED discards it (soft delete). Anything not waiting any more is left alone.
   */
  async applyApproval(
    transaction: Transaction,
    d: { kind: string; decision: string; decidedBy: string; payload: Record<string, unknown> },
  ): Promise<void> {
    if (d.kind !== 'project.create') return;
    const projectId = z.uuid().safeParse(d.payload.projectId);
    if (!projectId.success) return;
    const [row] = await this.sequelize.query<ProjectRow>(
      `SELECT ${PROJECT_COLUMNS} FROM projects p
        WHERE p.id = :id AND p.status = 'PENDING_APPROVAL' AND p.deleted_at IS NULL FOR UPDATE`,
      { replacements: { id: projectId.data }, type: QueryTypes.SELECT, transaction },
    );
    if (!row) return;
    const meta = { orgId: row.orgId, actorId: d.decidedBy, subjectId: row.id };
    if (d.decision === 'APPROVED') {
      await this.sequelize.query(
        `UPDATE projects SET status = 'ACTIVE', version = version + 1, updated_at = now() WHERE id = :id`,
        { replacements: { id: row.id }, transaction },
      );
      const active = await this.reload(row.id, transaction);
      await this.outbox.add(
        transaction,
        workEvent(workEvents.projectUpdated, { ...meta, data: projectData(active) }),
      );
      return;
    }
    await this.sequelize.query(
      `UPDATE projects SET deleted_at = now(), version = version + 1, updated_at = now() WHERE id = :id`,
      { replacements: { id: row.id }, transaction },
    );
    await this.outbox.add(
      transaction,
      workEvent(workEvents.projectDeleted, { ...meta, data: { projectId: row.id, orgId: row.orgId } }),
    );
  }

  // Members

  /**
   * Everyone with an effective role on the project and where it comes from: explicit members, the
   * project team's members, and the org's members (OWNER/ADMIN always; the rest on ORG visibility).
   */
  async members(caller: Caller, id: string, page: { limit: number; cursor?: string }) {
    const context = await this.access.project(id, caller);
    const { project } = context;
    const rows = await this.sequelize.query<{
      userId: string;
      orgRole: OrgRole;
      teamRole: TeamRole | null;
      projectRole: ProjectRole | null;
      name: string | null;
      email: string | null;
    }>(
      `SELECT m.user_id AS "userId", m.role AS "orgRole", tm.role AS "teamRole", pm.role AS "projectRole",
              u.name, u.email
         FROM org_members m
         LEFT JOIN team_members tm ON tm.team_id = :teamId AND tm.user_id = m.user_id
         LEFT JOIN project_members pm ON pm.project_id = :id AND pm.user_id = m.user_id
         LEFT JOIN users u ON u.id = m.user_id AND u.deleted_at IS NULL
        WHERE m.org_id = :orgId ${page.cursor ? 'AND m.user_id > :after' : ''}
        ORDER BY m.user_id`,
      {
        replacements: {
          id,
          orgId: project.orgId,
          teamId: project.teamId,
          after: page.cursor ? decodeCursor(page.cursor, memberCursor).userId : null,
        },
        type: QueryTypes.SELECT,
      },
    );
    const teamLive = project.teamId
      ? (await this.access.team(project.orgId, project.teamId, caller.id)) !== null
      : false;
    const items: ProjectMemberView[] = [];
    for (const row of rows) {
      const effective = effectiveProjectRole({
        orgRole: row.orgRole,
        teamRole: teamLive ? row.teamRole : null,
        projectRole: row.projectRole,
        visibility: project.visibility,
        projectHasTeam: project.teamId !== null,
      });
      if (effective.role === null || effective.source === null) continue;
      items.push({
        userId: row.userId,
        name: row.name,
        email: row.email,
        role: effective.role,
        source: effective.source,
      });
      if (items.length > page.limit) break;
    }
    return pageOf(
      items,
      page.limit,
      (m) => m,
      (m) => ({ userId: m.userId }),
    );
  }

  async addMember(caller: Caller, id: string, body: { userId: string; role: ProjectRole }) {
    return this.sequelize.transaction(async (transaction) => {
      const context = await this.access.project(id, caller, { transaction, lock: true });
      this.access.authorize(context, 'member.add');
      checkGrantedRole({
        scope: 'project',
        actorRole: context.role,
        actorBypass: context.bypass,
        role: body.role,
      });
      const target = await this.access.orgOrNull(
        context.project.orgId,
        body.userId,
        caller.authorization,
        transaction,
      );
      if (!target)
        throw errors.validation([{ path: 'userId', message: 'Not a member of the organization' }], 422);
      const inserted = await this.sequelize.query(
        `INSERT INTO project_members (project_id, user_id, role) VALUES (:id, :userId, :role)
         ON CONFLICT DO NOTHING RETURNING user_id`,
        { replacements: { id, ...body }, type: QueryTypes.SELECT, transaction },
      );
      if (inserted.length === 0) throw errors.conflict('The user is already a member of this project.');
      await this.outbox.add(
        transaction,
        workEvent(workEvents.projectMemberAdded, {
          orgId: context.project.orgId,
          actorId: caller.id,
          subjectId: id,
          data: { projectId: id, orgId: context.project.orgId, userId: body.userId, role: body.role },
        }),
      );
      return { userId: body.userId, role: body.role, source: 'explicit' as const };
    });
  }

  private async explicitRole(id: string, userId: string, transaction: Transaction): Promise<ProjectRole> {
    const [row] = await this.sequelize.query<{ role: ProjectRole }>(
      `SELECT role FROM project_members WHERE project_id = :id AND user_id = :userId FOR UPDATE`,
      { replacements: { id, userId }, type: QueryTypes.SELECT, transaction },
    );
    if (!row) throw errors.notFound('project member');
    return row.role;
  }

  async changeRole(caller: Caller, id: string, userId: string, role: ProjectRole) {
    return this.sequelize.transaction(async (transaction) => {
      const context = await this.access.project(id, caller, { transaction, lock: true });
      this.access.authorize(context, 'member.updateRole');
      const current = await this.explicitRole(id, userId, transaction);
      checkRoleChange({
        scope: 'project',
        actorRole: context.role,
        actorBypass: context.bypass,
        targetRole: current,
        newRole: role,
      });
      await this.sequelize.query(
        `UPDATE project_members SET role = :role WHERE project_id = :id AND user_id = :userId`,
        {
          replacements: { id, userId, role },
          transaction,
        },
      );
      await this.outbox.add(
        transaction,
        workEvent(workEvents.projectMemberRoleChanged, {
          orgId: context.project.orgId,
          actorId: caller.id,
          subjectId: id,
          data: { projectId: id, orgId: context.project.orgId, userId, from: current, to: role },
        }),
      );
      return { userId, role, source: 'explicit' as const };
    });
  }

  async removeMember(caller: Caller, id: string, userId: string): Promise<void> {
    await this.sequelize.transaction(async (transaction) => {
      const context = await this.access.project(id, caller, { transaction, lock: true });
      const self = userId === caller.id;
      if (!self) this.access.authorize(context, 'member.remove');
      const current = await this.explicitRole(id, userId, transaction);
      checkRemoval({
        scope: 'project',
        actorRole: context.role,
        actorBypass: context.bypass,
        targetRole: current,
        self,
      });
      await this.sequelize.query(`DELETE FROM project_members WHERE project_id = :id AND user_id = :userId`, {
        replacements: { id, userId },
        transaction,
      });
      await this.outbox.add(
        transaction,
        workEvent(workEvents.projectMemberRemoved, {
          orgId: context.project.orgId,
          actorId: caller.id,
          subjectId: id,
          data: { projectId: id, orgId: context.project.orgId, userId },
        }),
      );
    });
  }

  /**
   * product.md §4: only the current owner; the target must already be an explicit member of the
   * project (and of the org). New owner → OWNER, old owner → MANAGER, in one transaction.
   */
  async transferOwnership(caller: Caller, id: string, userId: string): Promise<ProjectView> {
    return this.sequelize.transaction(async (transaction) => {
      const context = await this.access.project(id, caller, { transaction, lock: true });
      if (context.project.ownerId !== caller.id) {
        throw errors.forbidden('Only the project owner may transfer its ownership.');
      }
      if (userId === caller.id) {
        throw errors.validation([{ path: 'userId', message: 'You already own this project' }], 422);
      }
      const [member] = await this.sequelize.query<{ role: ProjectRole }>(
        `SELECT role FROM project_members WHERE project_id = :id AND user_id = :userId FOR UPDATE`,
        { replacements: { id, userId }, type: QueryTypes.SELECT, transaction },
      );
      const inOrg = await this.access.orgOrNull(
        context.project.orgId,
        userId,
        caller.authorization,
        transaction,
      );
      if (!member || !inOrg) {
        throw errors.validation([{ path: 'userId', message: 'Not a member of this project' }], 422);
      }
      const demoted = formerOwnerRole('project') as ProjectRole;
      // Demote first: the one-OWNER-per-project index is checked row by row.
      const statements = [
        `UPDATE project_members SET role = :demoted WHERE project_id = :id AND user_id = :callerId`,
        `UPDATE project_members SET role = 'OWNER' WHERE project_id = :id AND user_id = :userId`,
        `UPDATE projects SET owner_id = :userId, version = version + 1, updated_at = now() WHERE id = :id`,
      ];
      for (const sql of statements) {
        await this.sequelize.query(sql, {
          replacements: { id, userId, callerId: caller.id, demoted },
          transaction,
        });
      }
      const orgId = context.project.orgId;
      const roleChanged = (who: string, from: ProjectRole, to: ProjectRole) =>
        workEvent(workEvents.projectMemberRoleChanged, {
          orgId,
          actorId: caller.id,
          subjectId: id,
          data: { projectId: id, orgId, userId: who, from, to },
        });
      await this.outbox.add(transaction, [
        workEvent(workEvents.projectOwnershipTransferred, {
          orgId,
          actorId: caller.id,
          subjectId: id,
          data: { projectId: id, orgId, fromUserId: caller.id, toUserId: userId },
        }),
        roleChanged(userId, member.role, 'OWNER'),
        roleChanged(caller.id, 'OWNER', demoted),
      ]);
      const after = { ...context, memberships: { ...context.memberships, projectRole: demoted } };
      return this.viewFor(caller, await this.reload(id, transaction), after);
    });
  }

  // Settings

  private settingsView(context: Pick<ProjectContext, 'project' | 'settings'>) {
    const own = projectSettingsOf(context.project.settings);
    return { ...own, thresholdsInForce: thresholdsInForce('project', context.settings) };
  }

  async settings(caller: Caller, id: string) {
    return this.settingsView(await this.access.project(id, caller));
  }

  async updateSettings(caller: Caller, id: string, patch: ProjectSettingsPatch) {
    return this.sequelize.transaction(async (transaction) => {
      const context = await this.access.project(id, caller, { transaction, lock: true });
      requireRole('project', 'settings.update', context.role, 'MANAGER', context.bypass);
      const next = applyProjectSettingsPatch(projectSettingsOf(context.project.settings), patch);
      await this.sequelize.query(
        `UPDATE projects SET settings = :settings::jsonb, version = version + 1, updated_at = now() WHERE id = :id`,
        { replacements: { id, settings: JSON.stringify(next) }, transaction },
      );
      await this.outbox.add(
        transaction,
        workEvent(workEvents.projectSettingsChanged, {
          orgId: context.project.orgId,
          actorId: caller.id,
          subjectId: id,
          data: { projectId: id, orgId: context.project.orgId, settings: { ...next } },
        }),
      );
      const project = { ...context.project, settings: next };
      return this.settingsView({ project, settings: { ...context.settings, project: next } });
    });
  }
}

function keyTaken(key: string) {
  return errors.conflict(`The key ${key} is already used by a project of this organization.`);
}
