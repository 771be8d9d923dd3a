// Project settings: read with every threshold in force, and changed (project MANAGER+).
import type { Sequelize } from 'sequelize';
import {
  authorizeRole,
  applyProjectSettingsPatch,
  thresholdsInForce,
  workEvents,
  type PgOutbox,
  type ProjectSettingsPatch,
} from '@trellis/shared';
import { type AccessService, type Caller, type ProjectContext } from '../access/access.service.ts';
import { workEvent } from '../events/outgoing.ts';
import { projectSettingsOf } from '../models.ts';

/** A project's own settings and the thresholds in force on it (product.md §8, api.md §4). */
export class ProjectSettingsService {
  private readonly sequelize: Sequelize;
  private readonly outbox: PgOutbox;
  private readonly access: AccessService;

  constructor(deps: { sequelize: Sequelize; outbox: PgOutbox; access: AccessService }) {
    this.sequelize = deps.sequelize;
    this.outbox = deps.outbox;
    this.access = deps.access;
  }

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
      authorizeRole({
        scope: 'project',
        action: 'settings.update',
        role: context.role,
        bypass: context.bypass,
      });
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
