import type { ProjectRole } from '@trellis/shared';
import type { ProjectRow } from '../models.ts';
import type { ProjectView } from './projects.schemas.ts';

export function toProjectView(project: ProjectRow, myRole: ProjectRole): ProjectView {
  return {
    id: project.id,
    orgId: project.orgId,
    teamId: project.teamId,
    name: project.name,
    key: project.key,
    description: project.description,
    status: project.status,
    visibility: project.visibility,
    ownerId: project.ownerId,
    myRole,
    createdAt: project.createdAt.toISOString(),
    updatedAt: project.updatedAt.toISOString(),
    version: project.version,
  };
}

export function projectData(project: ProjectRow) {
  return {
    projectId: project.id,
    orgId: project.orgId,
    teamId: project.teamId,
    name: project.name,
    key: project.key,
    status: project.status,
    visibility: project.visibility,
    ownerId: project.ownerId,
  };
}
