import type {
  Memberships,
  OrgRole,
  OrgSettings,
  PolicySettings,
  ProjectRole,
  ProjectRoleSource,
} from '@trellis/shared';
import type { ProjectRow } from '../models.ts';

// What an access decision hands its caller; apart from access.service.ts so that the memo that
// keeps these can name them without importing the service (no cycle).

/** The caller inside a live org they belong to. */
export interface OrgAccess {
  orgId: string;
  role: OrgRole;
  settings: OrgSettings;
}

/** The caller on a project they can see (effective project role not null). */
export interface ProjectContext {
  project: ProjectRow;
  org: OrgAccess;
  memberships: Memberships;
  settings: PolicySettings;
  role: ProjectRole;
  source: ProjectRoleSource;
  bypass: boolean;
}
