// Project lifecycle: create (waiting for approval when the org asks), list, read, edit, delete, restore.
import { randomUUID } from 'node:crypto';
import { QueryTypes, UniqueConstraintError, type Sequelize, type Transaction } from 'sequelize';
import { z } from 'zod';
import {
  authorizeRole,
  assertWithinPlanLimit,
  decideProjectCreation,
  decodeCursor,
  ensureAllowed,
  errors,
  pageOf,
  withinRestoreWindow,
  workEvents,
  type PgOutbox,
  type ProjectRole,
} from '@trellis/shared';
import { type AccessService, type Caller } from '../access/access.service.ts';
import { workEvent } from '../events/outgoing.ts';
import { PROJECT_COLUMNS, ifMatchPasses, type ProjectRow } from '../models.ts';
import { reloadProject, viewFor } from './project-rows.ts';
import type {
  CreateProjectBody,
  ProjectListQuery,
  ProjectView,
  UpdateProjectBody,
} from './projects.schemas.ts';
import { projectData, toProjectView } from './projects.views.ts';

/** A project list page's keyset position: creation time, then id. */
const pageCursor = z.object({ createdAt: z.string(), id: z.uuid() });

export type CreatedProject = ProjectView | { project: ProjectView; approval: { state: 'PENDING' } };

export function isPendingProject(
  created: CreatedProject,
): created is { project: ProjectView; approval: { state: 'PENDING' } } {
  return 'approval' in created;
}

/** Projects: create, list, read, edit, delete and restore (product.md §8, api.md §4). */
export class ProjectService {
  private readonly sequelize: Sequelize;
  private readonly outbox: PgOutbox;
  private readonly access: AccessService;

  constructor(deps: { sequelize: Sequelize; outbox: PgOutbox; access: AccessService }) {
    this.sequelize = deps.sequelize;
    this.outbox = deps.outbox;
    this.access = deps.access;
  }

  async create(caller: Caller, body: CreateProjectBody): Promise<CreatedProject> {
    const org = await this.access.org(body.orgId, caller);
    const teamId = body.teamId ?? null;
    const team = teamId ? await this.access.teamOfCaller(org.orgId, teamId, caller) : null;
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
        const row = await reloadProject(this.sequelize, id, transaction);
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
        authorizeRole({
          scope: 'project',
          action: 'project.update',
          role: context.role,
          bypass: context.bypass,
        });
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
        const row = await reloadProject(this.sequelize, id, transaction);
        await this.outbox.add(
          transaction,
          workEvent(workEvents.projectUpdated, {
            orgId: row.orgId,
            actorId: caller.id,
            subjectId: id,
            data: projectData(row),
          }),
        );
        return viewFor(this.access, caller, row, context);
      });
    } catch (err) {
      if (err instanceof UniqueConstraintError) throw errors.conflict('Conflicting change');
      throw err;
    }
  }

  async remove(caller: Caller, id: string): Promise<void> {
    await this.sequelize.transaction(async (transaction) => {
      const context = await this.access.project(id, caller, { transaction, lock: true });
      authorizeRole({
        scope: 'project',
        action: 'project.delete',
        role: context.role,
        bypass: context.bypass,
      });
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
      // Past its window a deleted project is gone for everyone; otherwise the policy decides before
      // the project's state is told (as for tasks): below MANAGER a denial, not "not deleted".
      if (project.deletedAt && !withinRestoreWindow(project.deletedAt)) throw errors.notFound('project');
      authorizeRole({
        scope: 'project',
        action: 'project.restore',
        role: context.role,
        bypass: context.bypass,
      });
      if (!project.deletedAt) throw errors.conflict('The project is not deleted.');
      await this.assertKeyFree(project.orgId, project.key, transaction, id);
      await this.sequelize.query(
        `UPDATE projects SET deleted_at = NULL, updated_at = now(), version = version + 1 WHERE id = :id`,
        { replacements: { id }, transaction },
      );
      const row = await reloadProject(this.sequelize, id, transaction);
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
}

function keyTaken(key: string) {
  return errors.conflict(`The key ${key} is already used by a project of this organization.`);
}
