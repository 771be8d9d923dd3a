import type { OrgAccess, ProjectAccessOf, ProjectRoleSource } from '@trellis/shared';
import type { ProjectRow } from '../models.ts';

// What an access decision hands its caller; apart from access.service.ts so that the memo that
// keeps these can name them without importing the service (no cycle). The shapes are shared's, the
// same collab and notify decide with; only the project row is work's own.

export type { OrgAccess };

/** The caller on a project they can see (effective project role not null), and where that role comes from. */
export interface ProjectContext extends ProjectAccessOf<ProjectRow> {
  source: ProjectRoleSource;
}
