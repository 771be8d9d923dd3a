import type { Model, RootFilterQuery, UpdateQuery } from 'mongoose';
import type { OrgRole, ProjectRole, TeamRole } from '../policy/roles.ts';
import type { OrgSettings, TeamSettings } from '../policy/settings.ts';
import { CoalescedInserts, upsertRetried } from '../db/mongo.ts';
import type { AccessTask, ProjectionModels } from './projection.models.ts';
import type { MembershipStore, ProjectFields, ProjectStore } from './projection.rules.ts';

/** Governance's `/internal/orgs/{orgId}/members/{userId}` answer. */
export interface MembershipSnapshot {
  orgId: string;
  userId: string;
  role: OrgRole;
  teams: { teamId: string; role: TeamRole }[];
  orgSettings: OrgSettings;
  teamSettings: Record<string, TeamSettings>;
}

/** Work's `/internal/projects/{projectId}` answer. */
export interface ProjectSnapshot extends ProjectFields {
  /** The project's settings (work sends them over today's defaults). */
  settings: object | null;
  deleted: boolean;
  /** Explicit project memberships only; org and team roles come from governance's events. */
  members: { userId: string; role: ProjectRole }[];
}

/** Work's `/internal/tasks/{taskId}` answer. */
export interface TaskSnapshot {
  taskId: string;
  orgId: string;
  projectId: string;
  key: string;
  title: string;
  reporterId: string;
  assigneeId: string | null;
  deleted: boolean;
  project: ProjectSnapshot;
}

type ProjectData = ProjectFields;

interface TaskData {
  taskId: string;
  orgId: string;
  projectId: string;
  key: string;
  title: string;
  reporterId: string;
  assigneeId: string | null;
}

/** The fields of a task event the projection keeps. */
function projectedTask({ orgId, projectId, key, title, reporterId, assigneeId }: TaskData) {
  return { orgId, projectId, key, title, reporterId, assigneeId };
}

/** An upsert by `_id`, tried again when it lost the race to insert that `_id` (see `upsertRetried`). */
function upsertById<T>(model: Model<T>, _id: string, update: UpdateQuery<T>) {
  return upsertRetried(() => model.updateOne({ _id } as RootFilterQuery<T>, update, { upsert: true }));
}

/** Settings are stored as JSON text (their keys hold dots, which FerretDB refuses as field names). */
export const settingsText = (settings: object | null | undefined): string | null =>
  settings ? JSON.stringify(settings) : null;

/**
 * The MongoDB store of the projection: what `projection.rules.ts` decides, written. Every effect is an
 * upsert keyed by natural ids, so replaying an event is harmless and events of different topics may
 * arrive in any order. A removed membership stays as a tombstone (`role: null`), and snapshots from
 * the fallbacks only fill in what no event has written yet (`$setOnInsert`), so a stale snapshot can
 * never bring back a removed membership.
 */
export class ProjectionWriter implements MembershipStore, ProjectStore {
  private readonly m: ProjectionModels;
  /** New tasks of concurrent events, inserted together. */
  private readonly taskInserts: CoalescedInserts<AccessTask>;

  constructor(models: ProjectionModels) {
    this.m = models;
    this.taskInserts = new CoalescedInserts(models.Task);
  }

  // governance.org

  orgUpserted(d: { orgId: string; ownerId: string; name?: string }, restore = false) {
    const set: Record<string, unknown> = { ownerId: d.ownerId };
    if (d.name !== undefined) set.name = d.name;
    if (restore) set.deleted = false;
    return upsertById(this.m.Org, d.orgId, { $set: set });
  }

  orgDeleted(orgId: string) {
    return upsertById(this.m.Org, orgId, { $set: { deleted: true } });
  }

  orgSettingsChanged(d: { orgId: string; settings: Record<string, unknown> }) {
    return upsertById(this.m.Org, d.orgId, { $set: { settings: settingsText(d.settings) } });
  }

  // governance.membership

  orgMemberSet(d: { orgId: string; userId: string; role: OrgRole }) {
    return upsertById(this.m.OrgMember, `${d.orgId}:${d.userId}`, {
      $set: { orgId: d.orgId, userId: d.userId, role: d.role },
    });
  }

  orgOwnersDemoted(d: { orgId: string; userId: string; role: OrgRole }) {
    return this.m.OrgMember.updateMany(
      { orgId: d.orgId, role: 'OWNER', userId: { $ne: d.userId } },
      { $set: { role: d.role } },
    );
  }

  async orgMemberRemoved(d: { orgId: string; userId: string }) {
    await upsertById(this.m.OrgMember, `${d.orgId}:${d.userId}`, {
      $set: { orgId: d.orgId, userId: d.userId, role: null },
    });
    await this.m.TeamMember.updateMany({ orgId: d.orgId, userId: d.userId }, { $set: { role: null } });
  }

  // governance.team

  teamUpserted(d: { orgId: string; teamId: string; name?: string }) {
    const set: Record<string, unknown> = { orgId: d.orgId, deleted: false };
    if (d.name !== undefined) set.name = d.name;
    return upsertById(this.m.Team, d.teamId, { $set: set });
  }

  teamDeleted(d: { orgId: string; teamId: string }) {
    return upsertById(this.m.Team, d.teamId, { $set: { orgId: d.orgId, deleted: true } });
  }

  teamSettingsChanged(d: { orgId: string; teamId: string; settings: Record<string, unknown> }) {
    return upsertById(this.m.Team, d.teamId, {
      $set: { orgId: d.orgId, settings: settingsText(d.settings) },
    });
  }

  teamMemberSet(d: { orgId: string; teamId: string; userId: string; role: TeamRole | null }) {
    return upsertById(this.m.TeamMember, `${d.teamId}:${d.userId}`, {
      $set: { orgId: d.orgId, teamId: d.teamId, userId: d.userId, role: d.role },
    });
  }

  teamOwnersDemoted(d: { teamId: string; userId: string; role: TeamRole }) {
    return this.m.TeamMember.updateMany(
      { teamId: d.teamId, role: 'OWNER', userId: { $ne: d.userId } },
      { $set: { role: d.role } },
    );
  }

  teamMemberRemoved(d: { orgId: string; teamId: string; userId: string }) {
    return this.teamMemberSet({ ...d, role: null });
  }

  // work.project

  projectUpserted(d: ProjectData, restore = false) {
    const { projectId, ...fields } = d;
    return upsertById(this.m.Project, projectId, {
      $set: { ...fields, ...(restore ? { deleted: false } : {}) },
    });
  }

  projectDeleted(d: { projectId: string }) {
    return this.m.Project.updateOne({ _id: d.projectId }, { $set: { deleted: true } });
  }

  projectSettingsChanged(d: { projectId: string; settings: Record<string, unknown> }) {
    return this.m.Project.updateOne({ _id: d.projectId }, { $set: { settings: settingsText(d.settings) } });
  }

  projectMemberSet(d: { orgId: string; projectId: string; userId: string; role: ProjectRole | null }) {
    return upsertById(this.m.ProjectMember, `${d.projectId}:${d.userId}`, {
      $set: { orgId: d.orgId, projectId: d.projectId, userId: d.userId, role: d.role },
    });
  }

  projectOwnersDemoted(d: { projectId: string; userId: string; role: ProjectRole }) {
    return this.m.ProjectMember.updateMany(
      { projectId: d.projectId, role: 'OWNER', userId: { $ne: d.userId } },
      { $set: { role: d.role } },
    );
  }

  projectMemberRemoved(d: { orgId: string; projectId: string; userId: string }) {
    return this.projectMemberSet({ ...d, role: null });
  }

  projectOwnerSet(d: { projectId: string; ownerId: string }) {
    return this.m.Project.updateOne({ _id: d.projectId }, { $set: { ownerId: d.ownerId } });
  }

  // work.task

  /**
   * A new task in one insert, shared with other events' (an upsert costs FerretDB v1 a find, then the
   * insert). A task already there — a redelivery, or a snapshot a request's fallback stored first —
   * takes the event's fields as an update would.
   */
  async taskCreated(d: TaskData): Promise<void> {
    const task: AccessTask = { _id: d.taskId, ...projectedTask(d), deleted: false };
    if (!(await this.taskInserts.insert(task))) await this.taskUpserted(d);
  }

  taskUpserted(d: TaskData, restore = false) {
    const set = { ...projectedTask(d), ...(restore ? { deleted: false } : {}) };
    return upsertById(this.m.Task, d.taskId, { $set: set });
  }

  tasksDeleted(taskIds: string[]) {
    return this.m.Task.updateMany({ _id: { $in: taskIds } }, { $set: { deleted: true } });
  }

  // identity.user

  userUpserted(d: { userId: string; email: string; name: string }) {
    return upsertById(this.m.User, d.userId, {
      $set: { email: d.email.toLowerCase(), name: d.name, deleted: false },
    });
  }

  userDeleted(userId: string) {
    return this.m.User.updateOne({ _id: userId }, { $set: { deleted: true } });
  }

  // fallbacks

  async storeMembership(s: MembershipSnapshot) {
    await upsertById(this.m.Org, s.orgId, {
      $setOnInsert: { settings: settingsText(s.orgSettings), deleted: false, ownerId: null, name: null },
    });
    await upsertById(this.m.OrgMember, `${s.orgId}:${s.userId}`, {
      $setOnInsert: { orgId: s.orgId, userId: s.userId, role: s.role },
    });
    for (const { teamId, role } of s.teams) {
      await upsertById(this.m.Team, teamId, {
        $setOnInsert: { orgId: s.orgId, settings: settingsText(s.teamSettings[teamId]), deleted: false },
      });
      await upsertById(this.m.TeamMember, `${teamId}:${s.userId}`, {
        $setOnInsert: { orgId: s.orgId, teamId, userId: s.userId, role },
      });
    }
  }

  async storeProject(s: ProjectSnapshot) {
    const { projectId, members, settings, ...fields } = s;
    await upsertById(this.m.Project, projectId, {
      $setOnInsert: { ...fields, settings: settingsText(settings) },
    });
    for (const { userId, role } of members)
      await upsertById(this.m.ProjectMember, `${projectId}:${userId}`, {
        $setOnInsert: { orgId: s.orgId, projectId, userId, role },
      });
  }

  /**
   * A task read before its event was projected (a request's fallback). Its project only when that is
   * not projected either: a known project's members come from events, and storing them again cost an
   * upsert per member on every such read (FerretDB writes the document back even when
   * `$setOnInsert` does nothing) — a task read right after it was created did that each time.
   */
  async storeTask(s: TaskSnapshot) {
    if (!(await this.m.Project.exists({ _id: s.project.projectId }))) await this.storeProject(s.project);
    const { taskId, project: _project, ...fields } = s;
    await upsertById(this.m.Task, taskId, { $setOnInsert: fields });
  }
}
