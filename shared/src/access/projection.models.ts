import { Schema, type Connection, type Model } from 'mongoose';
import type { OrgRole, ProjectRole, TeamRole } from '../policy/roles.ts';
import type { ProjectFields } from './projection.rules.ts';

// The authorization projection of a MongoDB service (architecture.md §2): local copies of orgs,
// teams, projects, tasks, users and the memberships between them, written only from events (and
// the fallbacks). Membership documents use `<scopeId>:<userId>` ids, so every write is an upsert.

export interface AccessOrg {
  _id: string;
  ownerId: string | null;
  name: string | null;
  /** JSON text: settings keys hold dots (`task.update`), which FerretDB refuses in stored keys. */
  settings: string | null;
  deleted: boolean;
}
export interface AccessTeam {
  _id: string;
  orgId: string;
  name: string | null;
  /** JSON text: settings keys hold dots (`task.update`), which FerretDB refuses in stored keys. */
  settings: string | null;
  deleted: boolean;
}
/** A project as stored: the fields work's events carry, keyed by its id. */
export interface AccessProject extends Omit<ProjectFields, 'projectId'> {
  _id: string;
  /** JSON text: settings keys hold dots (`task.update`), which FerretDB refuses in stored keys. */
  settings: string | null;
  deleted: boolean;
}
export interface AccessTask {
  _id: string;
  orgId: string;
  projectId: string;
  key: string;
  title: string;
  reporterId: string;
  assigneeId: string | null;
  deleted: boolean;
}
export interface AccessUser {
  _id: string;
  email: string;
  name: string;
  deleted: boolean;
}
export interface OrgMember {
  _id: string;
  orgId: string;
  userId: string;
  role: OrgRole;
}
export interface TeamMember {
  _id: string;
  orgId: string;
  teamId: string;
  userId: string;
  role: TeamRole;
}
export interface ProjectMember {
  _id: string;
  orgId: string;
  projectId: string;
  userId: string;
  role: ProjectRole;
}

export interface ProjectionModels {
  Org: Model<AccessOrg>;
  Team: Model<AccessTeam>;
  Project: Model<AccessProject>;
  Task: Model<AccessTask>;
  User: Model<AccessUser>;
  OrgMember: Model<OrgMember>;
  TeamMember: Model<TeamMember>;
  ProjectMember: Model<ProjectMember>;
}

const id = { type: String, required: true };
const options = { versionKey: false, timestamps: true } as const;

function model<T>(connection: Connection, name: string, schema: Schema<T>): Model<T> {
  return (connection.models[name] as Model<T> | undefined) ?? connection.model<T>(name, schema);
}

/** The projection's models on a service's own connection (collections `access_*`). */
export function projectionModels(connection: Connection): ProjectionModels {
  const org = new Schema<AccessOrg>(
    {
      _id: id,
      ownerId: { type: String, default: null },
      name: { type: String, default: null },
      settings: { type: String, default: null },
      deleted: { type: Boolean, default: false },
    },
    { ...options, collection: 'access_orgs' },
  );
  const team = new Schema<AccessTeam>(
    {
      _id: id,
      orgId: { ...id, index: true },
      name: { type: String, default: null },
      settings: { type: String, default: null },
      deleted: { type: Boolean, default: false },
    },
    { ...options, collection: 'access_teams' },
  );
  const project = new Schema<AccessProject>(
    {
      _id: id,
      orgId: { ...id, index: true },
      teamId: { type: String, default: null, index: true },
      name: id,
      key: id,
      status: id,
      visibility: { type: String, required: true, enum: ['ORG', 'PRIVATE'] },
      ownerId: id,
      settings: { type: String, default: null },
      deleted: { type: Boolean, default: false },
    },
    { ...options, collection: 'access_projects' },
  );
  const task = new Schema<AccessTask>(
    {
      _id: id,
      orgId: id,
      projectId: { ...id, index: true },
      key: id,
      title: id,
      reporterId: id,
      assigneeId: { type: String, default: null },
      deleted: { type: Boolean, default: false },
    },
    { ...options, collection: 'access_tasks' },
  );
  const user = new Schema<AccessUser>(
    {
      _id: id,
      email: { ...id, index: true },
      name: id,
      deleted: { type: Boolean, default: false },
    },
    { ...options, collection: 'access_users' },
  );
  const member = <T>(collection: string, scopeField: string) => {
    const schema = new Schema<T>(
      {
        _id: id,
        orgId: { ...id, index: true },
        ...(scopeField === 'orgId' ? {} : { [scopeField]: { ...id, index: true } }),
        userId: { ...id, index: true },
        role: id,
      },
      { ...options, collection },
    );
    return schema;
  };
  return {
    Org: model(connection, 'AccessOrg', org),
    Team: model(connection, 'AccessTeam', team),
    Project: model(connection, 'AccessProject', project),
    Task: model(connection, 'AccessTask', task),
    User: model(connection, 'AccessUser', user),
    OrgMember: model(connection, 'AccessOrgMember', member<OrgMember>('access_org_members', 'orgId')),
    TeamMember: model(connection, 'AccessTeamMember', member<TeamMember>('access_team_members', 'teamId')),
    ProjectMember: model(
      connection,
      'AccessProjectMember',
      member<ProjectMember>('access_project_members', 'projectId'),
    ),
  };
}
