import { effectiveProjectRole, effectiveTeamRole, type Memberships } from '../policy/effective.ts';
import type { OrgRole, ProjectRole, TeamRole } from '../policy/roles.ts';
import {
  orgSettingsFrom,
  projectSettingsFrom,
  teamSettingsFrom,
  type OrgSettings,
  type PolicySettings,
  type ProjectSettings,
  type TeamSettings,
} from '../policy/settings.ts';
import type { InternalClient } from './internal-client.ts';
import type { AccessProject, AccessTask, AccessTeam, ProjectionModels } from './projection.models.ts';
import type {
  MembershipSnapshot,
  ProjectionWriter,
  ProjectSnapshot,
  TaskSnapshot,
} from './projection.writer.ts';

/** Stored settings text back to an object (partial: the `*SettingsFrom` helpers fill defaults). */
function settingsOf<T>(text: string | null | undefined): Partial<T> | undefined {
  return text ? (JSON.parse(text) as Partial<T>) : undefined;
}

/** The caller inside a live org they belong to. */
export interface OrgAccess {
  orgId: string;
  role: OrgRole;
  settings: OrgSettings;
}

/** The caller on a live team of an org they belong to; `role` is the effective team role. */
export interface TeamAccess {
  team: AccessTeam;
  org: OrgAccess;
  memberships: Memberships;
  settings: PolicySettings;
  role: TeamRole;
  bypass: boolean;
}

/**
 * The caller on a live project they can see (effective project role not null): the same shape in
 * every service, `P` being the store's project (work's row, the projection's document here).
 */
export interface ProjectAccessOf<P> {
  project: P;
  org: OrgAccess;
  memberships: Memberships;
  settings: PolicySettings;
  role: ProjectRole;
  bypass: boolean;
}

export type ProjectAccess = ProjectAccessOf<AccessProject>;

export interface TaskAccess {
  task: AccessTask;
  project: ProjectAccess;
}

/**
 * Access decisions on the projection (product.md §1–§2): an org the user does not belong to, a
 * deleted org, team, project or task, and anything the user has no effective role on, all read as
 * null, which callers answer with 404. When the projection has not yet seen something the user
 * may have just been given (a membership, a new project or task), the owner is asked once through
 * its internal endpoint with the caller's token (`authorization`); without a token (deciding for
 * someone else, e.g. whom to notify) only the projection counts.
 */
export class AccessReader {
  private readonly m: ProjectionModels;
  private readonly writer: ProjectionWriter;
  private readonly governance: InternalClient | undefined;
  private readonly work: InternalClient | undefined;

  constructor(deps: {
    models: ProjectionModels;
    writer: ProjectionWriter;
    governance?: InternalClient;
    work?: InternalClient;
  }) {
    this.m = deps.models;
    this.writer = deps.writer;
    this.governance = deps.governance;
    this.work = deps.work;
  }

  private async readOrg(orgId: string, userId: string) {
    const [org, member] = await Promise.all([
      this.m.Org.findById(orgId).lean(),
      this.m.OrgMember.findById(`${orgId}:${userId}`).lean(),
    ]);
    if (org?.deleted) return { known: true, access: null };
    // A membership may arrive before its org (different topics): the defaults stand in meanwhile.
    const access: OrgAccess | null = member?.role
      ? { orgId, role: member.role, settings: orgSettingsFrom(settingsOf<OrgSettings>(org?.settings)) }
      : null;
    return { known: member !== null, access };
  }

  /** The user's membership of a live org, or null. */
  async org(orgId: string, userId: string, authorization?: string): Promise<OrgAccess | null> {
    const found = await this.readOrg(orgId, userId);
    if (found.access || found.known || !this.governance || !authorization) return found.access;
    const snapshot = await this.governance.get<MembershipSnapshot>(
      `/internal/orgs/${orgId}/members/${userId}`,
      authorization,
    );
    if (!snapshot) return null;
    await this.writer.storeMembership(snapshot);
    return (await this.readOrg(orgId, userId)).access;
  }

  private async teamRole(teamId: string, userId: string): Promise<TeamRole | null> {
    return (await this.m.TeamMember.findById(`${teamId}:${userId}`).lean())?.role ?? null;
  }

  /** A live team the user can see (explicit member, or org OWNER/ADMIN), or null. */
  async team(teamId: string, userId: string, authorization?: string): Promise<TeamAccess | null> {
    const team = await this.m.Team.findById(teamId).lean();
    if (!team || team.deleted) return null;
    const org = await this.org(team.orgId, userId, authorization);
    if (!org) return null;
    const memberships: Memberships = { orgRole: org.role, teamRole: await this.teamRole(teamId, userId) };
    const effective = effectiveTeamRole({ orgRole: org.role, teamRole: memberships.teamRole ?? null });
    if (!effective.role) return null;
    const settings = { org: org.settings, team: teamSettingsFrom(settingsOf<TeamSettings>(team.settings)) };
    return { team, org, memberships, settings, role: effective.role, bypass: effective.bypass };
  }

  private async projectRow(projectId: string, authorization?: string): Promise<AccessProject | null> {
    const project = await this.m.Project.findById(projectId).lean();
    if (project || !this.work || !authorization) return project;
    const snapshot = await this.work.get<ProjectSnapshot>(`/internal/projects/${projectId}`, authorization);
    if (!snapshot) return null;
    await this.writer.storeProject(snapshot);
    return this.m.Project.findById(projectId).lean();
  }

  /** The decision context of a project for one user of its org. */
  private async projectContext(
    project: AccessProject,
    userId: string,
    authorization?: string,
  ): Promise<ProjectAccess | null> {
    if (project.deleted) return null;
    const org = await this.org(project.orgId, userId, authorization);
    if (!org) return null;
    const [explicit, team, teamRole] = await Promise.all([
      this.m.ProjectMember.findById(`${project._id}:${userId}`).lean(),
      project.teamId ? this.m.Team.findById(project.teamId).lean() : null,
      project.teamId ? this.teamRole(project.teamId, userId) : null,
    ]);
    const liveTeam = team && !team.deleted ? team : null;
    const memberships: Memberships = {
      orgRole: org.role,
      teamRole: liveTeam ? teamRole : null,
      projectRole: explicit?.role ?? null,
      visibility: project.visibility,
      projectHasTeam: project.teamId !== null,
    };
    const effective = effectiveProjectRole(memberships);
    if (!effective.role) return null;
    const settings: PolicySettings = {
      org: org.settings,
      team: liveTeam ? teamSettingsFrom(settingsOf<TeamSettings>(liveTeam.settings)) : null,
      project: projectSettingsFrom(settingsOf<ProjectSettings>(project.settings)),
    };
    return { project, org, memberships, settings, role: effective.role, bypass: effective.bypass };
  }

  /** A live project the user can see, or null. */
  async project(projectId: string, userId: string, authorization?: string): Promise<ProjectAccess | null> {
    const project = await this.projectRow(projectId, authorization);
    return project ? this.projectContext(project, userId, authorization) : null;
  }

  /** A live task in a project the user can see, or null. */
  async task(taskId: string, userId: string, authorization?: string): Promise<TaskAccess | null> {
    let task = await this.m.Task.findById(taskId).lean();
    if (!task && this.work && authorization) {
      const snapshot = await this.work.get<TaskSnapshot>(`/internal/tasks/${taskId}`, authorization);
      if (snapshot) {
        await this.writer.storeTask(snapshot);
        task = await this.m.Task.findById(taskId).lean();
      }
    }
    if (!task || task.deleted) return null;
    const project = await this.project(task.projectId, userId, authorization);
    return project ? { task, project } : null;
  }

  /** An org's settings as projected (the defaults until its settings are seen). */
  async orgSettings(orgId: string): Promise<OrgSettings> {
    const org = await this.m.Org.findById(orgId).lean();
    return orgSettingsFrom(settingsOf<OrgSettings>(org?.settings));
  }

  /** The current members of a live org with their roles. */
  async orgMembers(orgId: string): Promise<{ userId: string; role: OrgRole }[]> {
    const org = await this.m.Org.findById(orgId).lean();
    if (org?.deleted) return [];
    const rows = await this.m.OrgMember.find({ orgId, role: { $ne: null } }).lean();
    return rows.map((r) => ({ userId: r.userId, role: r.role }));
  }

  /**
   * The people of a project: its explicit members and the members of its team (who work in it),
   * not everyone who can merely see it through the org.
   */
  async projectPeople(projectId: string): Promise<string[]> {
    const project = await this.m.Project.findById(projectId).lean();
    if (!project || project.deleted) return [];
    const [explicit, team] = await Promise.all([
      this.m.ProjectMember.find({ projectId, role: { $ne: null } }).lean(),
      project.teamId ? this.m.TeamMember.find({ teamId: project.teamId, role: { $ne: null } }).lean() : [],
    ]);
    return [...new Set([...explicit.map((r) => r.userId), ...team.map((r) => r.userId)])];
  }

  /** The projected task (live or deleted), without an access decision. */
  taskRow(taskId: string): Promise<AccessTask | null> {
    return this.m.Task.findById(taskId).lean();
  }

  projectRowOf(projectId: string): Promise<AccessProject | null> {
    return this.m.Project.findById(projectId).lean();
  }

  /** A live user, by id or by e-mail. */
  async user(userId: string) {
    const user = await this.m.User.findById(userId).lean();
    return user && !user.deleted ? user : null;
  }

  async userByEmail(email: string) {
    return this.m.User.findOne({ email: email.toLowerCase(), deleted: false }).lean();
  }

  /** Users of an org (the ids of its members), when `userIds` may include strangers. */
  async membersAmong(orgId: string, userIds: string[]): Promise<string[]> {
    if (userIds.length === 0) return [];
    const rows = await this.m.OrgMember.find({
      _id: { $in: userIds.map((u) => `${orgId}:${u}`) },
      role: { $ne: null },
    }).lean();
    return rows.map((r) => r.userId);
  }
}
