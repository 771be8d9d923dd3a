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

/** Each TaskRow field and the SQL that selects it from `tasks t`. */
const TASK_SELECT: Record<keyof TaskRow, string> = {
  id: 't.id',
  key: 't.key',
  number: 't.number',
  orgId: 't.org_id',
  projectId: 't.project_id',
  parentId: 't.parent_id',
  title: 't.title',
  description: 't.description',
  status: 't.status',
  priority: 't.priority',
  type: 't.type',
  assigneeId: 't.assignee_id',
  reporterId: 't.reporter_id',
  sprintId: 't.sprint_id',
  estimate: 't.estimate',
  labels: 't.labels',
  startDate: "to_char(t.start_date, 'YYYY-MM-DD')",
  dueDate: "to_char(t.due_date, 'YYYY-MM-DD')",
  completedAt: 't.completed_at',
  createdAt: 't.created_at',
  updatedAt: 't.updated_at',
  deletedAt: 't.deleted_at',
  version: 't.version',
};

const taskColumns = (prefix: string) =>
  Object.entries(TASK_SELECT)
    .map(([field, sql]) => `${sql} AS "${prefix}${field}"`)
    .join(', ');

export const TASK_COLUMNS = taskColumns('');

/**
 * The task columns named `task.<field>`, for a statement that selects a task beside other columns
 * (the access lookup by task id); `takeTaskRow` moves them out of such a row.
 */
export const TASK_COLUMNS_PREFIXED = taskColumns('task.');

export function takeTaskRow(row: Record<string, unknown>): TaskRow {
  const task: Record<string, unknown> = {};
  for (const field of Object.keys(TASK_SELECT)) {
    task[field] = row[`task.${field}`];
    delete row[`task.${field}`];
  }
  return task as unknown as TaskRow;
}

// Stored settings over today's defaults (a setting added later has a value for older rows), and
// the ETag / If-Match rules of api.md §1: shared with the other services.
export {
  etagOf,
  ifMatchPasses,
  orgSettingsFrom as orgSettingsOf,
  projectSettingsFrom as projectSettingsOf,
  teamSettingsFrom as teamSettingsOf,
} from '@trellis/shared';
