// Project memberships (effective roles with their source; explicit members) and the ownership transfer.
import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import { z } from 'zod';
import {
  authorizeRole,
  checkGrantedRole,
  checkRemoval,
  checkRoleChange,
  decodeCursor,
  effectiveProjectRole,
  errors,
  formerOwnerRole,
  pageOf,
  workEvents,
  type OrgRole,
  type PgOutbox,
  type ProjectRole,
  type TeamRole,
} from '@trellis/shared';
import { type AccessService, type Caller } from '../access/access.service.ts';
import { workEvent } from '../events/outgoing.ts';
import { reloadProject, viewFor } from './project-rows.ts';
import type { ProjectMemberView, ProjectView } from './projects.schemas.ts';

const memberCursor = z.object({ userId: z.uuid() });

/** The members of a project and its ownership (product.md §4, §8, api.md §4). */
export class ProjectMemberService {
  private readonly sequelize: Sequelize;
  private readonly outbox: PgOutbox;
  private readonly access: AccessService;

  constructor(deps: { sequelize: Sequelize; outbox: PgOutbox; access: AccessService }) {
    this.sequelize = deps.sequelize;
    this.outbox = deps.outbox;
    this.access = deps.access;
  }

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
   * product.md §4: the current owner (or the org OWNER, who bypasses every project rule: the
   * catalogue's project.transferOwnership); the target must already be an explicit member of the
   * project (and of the org). New owner → OWNER, old owner → MANAGER, in one transaction.
   */
  async transferOwnership(caller: Caller, id: string, userId: string): Promise<ProjectView> {
    return this.sequelize.transaction(async (transaction) => {
      const context = await this.access.project(id, caller, { transaction, lock: true });
      authorizeRole({
        scope: 'project',
        action: 'project.transferOwnership',
        role: context.role,
        bypass: context.bypass,
      });
      const fromUserId = context.project.ownerId;
      if (userId === fromUserId) {
        throw errors.validation([{ path: 'userId', message: 'Already the owner of this project' }], 422);
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
        `UPDATE project_members SET role = :demoted WHERE project_id = :id AND user_id = :fromUserId`,
        `UPDATE project_members SET role = 'OWNER' WHERE project_id = :id AND user_id = :userId`,
        `UPDATE projects SET owner_id = :userId, version = version + 1, updated_at = now() WHERE id = :id`,
      ];
      for (const sql of statements) {
        await this.sequelize.query(sql, {
          replacements: { id, userId, fromUserId, demoted },
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
          data: { projectId: id, orgId, fromUserId, toUserId: userId },
        }),
        roleChanged(userId, member.role, 'OWNER'),
        roleChanged(fromUserId, 'OWNER', demoted),
      ]);
      const after =
        fromUserId === caller.id
          ? { ...context, memberships: { ...context.memberships, projectRole: demoted } }
          : context;
      return viewFor(this.access, caller, await reloadProject(this.sequelize, id, transaction), after);
    });
  }
}
