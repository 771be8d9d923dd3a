import { QueryTypes, type Sequelize } from 'sequelize';
import { errors, type ProjectRole, type ProjectSnapshot, type TaskSnapshot } from '@trellis/shared';
import { PROJECT_COLUMNS, projectSettingsOf, type ProjectRow } from '../models.ts';
import { projectData } from '../projects/projects.views.ts';

/**
 * The project and task fallback of architecture.md §2, for collab and notify: a service whose
 * projection has not yet seen a project or task (its event still in flight) asks here before
 * answering 404. Soft-deleted ones are answered too, marked `deleted`, so the caller can tell
 * "gone" from "not seen yet". No access check beyond a valid token: the caller decides access
 * with its own projection of memberships.
 */
export class InternalService {
  private readonly sequelize: Sequelize;

  constructor(deps: { sequelize: Sequelize }) {
    this.sequelize = deps.sequelize;
  }

  async project(projectId: string): Promise<ProjectSnapshot> {
    const [project] = await this.sequelize.query<ProjectRow>(
      `SELECT ${PROJECT_COLUMNS} FROM projects p WHERE p.id = :projectId`,
      { replacements: { projectId }, type: QueryTypes.SELECT },
    );
    if (!project) throw errors.notFound('project');
    return this.snapshot(project);
  }

  async task(taskId: string): Promise<TaskSnapshot> {
    const [task] = await this.sequelize.query<Omit<TaskSnapshot, 'project'>>(
      `SELECT id AS "taskId", org_id AS "orgId", project_id AS "projectId", key, title,
              reporter_id AS "reporterId", assignee_id AS "assigneeId", deleted_at IS NOT NULL AS deleted
         FROM tasks WHERE id = :taskId`,
      { replacements: { taskId }, type: QueryTypes.SELECT },
    );
    if (!task) throw errors.notFound('task');
    return { ...task, project: await this.project(task.projectId) };
  }

  private async snapshot(project: ProjectRow): Promise<ProjectSnapshot> {
    const members = await this.sequelize.query<{ userId: string; role: ProjectRole }>(
      `SELECT user_id AS "userId", role FROM project_members WHERE project_id = :projectId ORDER BY user_id`,
      { replacements: { projectId: project.id }, type: QueryTypes.SELECT },
    );
    return {
      ...projectData(project),
      settings: projectSettingsOf(project.settings),
      deleted: project.deletedAt !== null,
      members,
    };
  }
}
