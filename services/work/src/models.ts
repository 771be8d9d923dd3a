import type { ProjectSettings } from '@trellis/shared';

// work talks SQL (keyset lists, counters, generated columns) rather than ORM models; these are the
// row shapes its queries select, camelCased by the SELECT lists below.

export type ProjectStatus = 'PLANNING' | 'ACTIVE' | 'ON_HOLD' | 'COMPLETED' | 'ARCHIVED' | 'PENDING_APPROVAL';
export type Visibility = 'ORG' | 'PRIVATE';

export interface ProjectRow {
  id: string;
  orgId: string;
  teamId: string | null;
  name: string;
  key: string;
  description: string | null;
  status: ProjectStatus;
  visibility: Visibility;
  ownerId: string;
  settings: Partial<ProjectSettings>;
  version: number;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
}

export const PROJECT_COLUMNS = `p.id, p.org_id AS "orgId", p.team_id AS "teamId", p.name, p.key, p.description,
  p.status, p.visibility, p.owner_id AS "ownerId", p.settings, p.version, p.created_at AS "createdAt",
  p.updated_at AS "updatedAt", p.deleted_at AS "deletedAt"`;

export interface TaskRow {
  id: string;
  key: string;
  number: number;
  orgId: string;
  projectId: string;
  parentId: string | null;
  title: string;
  description: string | null;
  status: string;
  priority: string;
  type: string;
  assigneeId: string | null;
  reporterId: string;
  sprintId: string | null;
  estimate: number | null;
  labels: string[];
  startDate: string | null;
  dueDate: string | null;
  completedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
  version: number;
}

export const TASK_COLUMNS = `t.id, t.key, t.number, t.org_id AS "orgId", t.project_id AS "projectId",
  t.parent_id AS "parentId", t.title, t.description, t.status, t.priority, t.type,
  t.assignee_id AS "assigneeId", t.reporter_id AS "reporterId", t.sprint_id AS "sprintId", t.estimate,
  t.labels, to_char(t.start_date, 'YYYY-MM-DD') AS "startDate", to_char(t.due_date, 'YYYY-MM-DD') AS "dueDate",
  t.completed_at AS "completedAt", t.created_at AS "createdAt", t.updated_at AS "updatedAt",
  t.deleted_at AS "deletedAt", t.version`;

// Stored settings over today's defaults (a setting added later has a value for older rows), and
// the ETag / If-Match rules of api.md §1: shared with the other services.
export {
  etagOf,
  ifMatchPasses,
  orgSettingsFrom as orgSettingsOf,
  projectSettingsFrom as projectSettingsOf,
  teamSettingsFrom as teamSettingsOf,
} from '@trellis/shared';
