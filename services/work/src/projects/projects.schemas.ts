import { z } from 'zod';
import { blankableText, limitSchema, patchBody, projectRoleSchema, text } from '@trellis/shared';

export const PROJECT_STATUSES = [
  'PLANNING',
  'ACTIVE',
  'ON_HOLD',
  'COMPLETED',
  'ARCHIVED',
  'PENDING_APPROVAL',
] as const;
const projectStatus = z.enum(PROJECT_STATUSES);
/** PENDING_APPROVAL is only ever set by the approval flow. */
const settableStatus = z.enum(['PLANNING', 'ACTIVE', 'ON_HOLD', 'COMPLETED', 'ARCHIVED']);
const visibility = z.enum(['ORG', 'PRIVATE']);
const name = text(200);
const description = blankableText(10_000);

export const createProjectBody = z.object({
  orgId: z.uuid(),
  teamId: z.uuid().nullable().optional(),
  name,
  key: z.string().regex(/^[A-Z0-9]{2,10}$/, '2–10 upper-case letters or digits'),
  description: description.nullable().optional(),
  visibility: visibility.optional(),
});
export type CreateProjectBody = z.infer<typeof createProjectBody>;

export const updateProjectBody = patchBody({
  name: name.optional(),
  description: description.nullable().optional(),
  status: settableStatus.optional(),
  teamId: z.uuid().nullable().optional(),
  visibility: visibility.optional(),
});
export type UpdateProjectBody = z.infer<typeof updateProjectBody>;

export const projectIdParams = z.object({ id: z.uuid() });
export const projectMemberParams = z.object({ id: z.uuid(), userId: z.uuid() });
export const addProjectMemberBody = z.object({ userId: z.uuid(), role: projectRoleSchema });
export const changeProjectRoleBody = z.object({ role: projectRoleSchema });
export const transferOwnershipBody = z.object({ userId: z.uuid() });

export const projectListQuery = z.object({
  orgId: z.uuid().optional(),
  teamId: z.uuid().optional(),
  status: projectStatus.optional(),
  limit: limitSchema,
  cursor: z.string().min(1).max(500).optional(),
});
export type ProjectListQuery = z.infer<typeof projectListQuery>;

export const projectSchema = z
  .object({
    id: z.uuid(),
    orgId: z.uuid(),
    teamId: z.uuid().nullable(),
    name: z.string(),
    key: z.string(),
    description: z.string().nullable(),
    status: projectStatus,
    visibility,
    ownerId: z.uuid(),
    /** The caller's effective project role. */
    myRole: projectRoleSchema,
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    version: z.number().int().min(1),
  })
  .meta({ id: 'Project' });
export type ProjectView = z.infer<typeof projectSchema>;
export const projectPageSchema = z.object({
  items: z.array(projectSchema),
  nextCursor: z.string().nullable(),
});
export const pendingProjectSchema = z.object({
  project: projectSchema,
  approval: z.object({ state: z.literal('PENDING') }),
});

export const projectMemberSchema = z
  .object({
    userId: z.uuid(),
    name: z.string().nullable(),
    email: z.string().nullable(),
    role: projectRoleSchema,
    source: z.enum(['explicit', 'org', 'team']),
  })
  .meta({ id: 'ProjectMember' });
export type ProjectMemberView = z.infer<typeof projectMemberSchema>;
export const projectMemberPageSchema = z.object({
  items: z.array(projectMemberSchema),
  nextCursor: z.string().nullable(),
});
export const memberPageQuery = z.object({
  limit: limitSchema,
  cursor: z.string().min(1).max(500).optional(),
});
