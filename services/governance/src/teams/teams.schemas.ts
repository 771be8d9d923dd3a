import { z } from 'zod';
import { blankableText, limitSchema, patchBody, teamRoleSchema, text } from '@trellis/shared';

const teamName = text(100);
const description = blankableText(2000);

export const createTeamBody = z.object({ name: teamName, description: description.nullable().optional() });
export const updateTeamBody = patchBody(
  { name: teamName.optional(), description: description.nullable().optional() },
  'Give name or description',
);
export const teamIdParams = z.object({ teamId: z.uuid() });
export const teamMemberParams = z.object({ teamId: z.uuid(), userId: z.uuid() });
export const addTeamMemberBody = z.object({ userId: z.uuid(), role: teamRoleSchema });
export const changeTeamRoleBody = z.object({ role: teamRoleSchema });
export const teamPageQuery = z.object({ limit: limitSchema, cursor: z.string().min(1).max(500).optional() });

export const teamSchema = z
  .object({
    id: z.uuid(),
    orgId: z.uuid(),
    name: z.string(),
    description: z.string().nullable(),
    ownerId: z.uuid(),
    /** The caller's effective team role (org OWNER/ADMIN act as MANAGER); null when they have none. */
    myRole: teamRoleSchema.nullable(),
    createdAt: z.iso.datetime(),
    version: z.number().int().min(1),
  })
  .meta({ id: 'Team' });
export type TeamView = z.infer<typeof teamSchema>;
export const teamPageSchema = z.object({ items: z.array(teamSchema), nextCursor: z.string().nullable() });

export const teamMemberSchema = z
  .object({
    userId: z.uuid(),
    name: z.string().nullable(),
    email: z.string().nullable(),
    role: teamRoleSchema,
    joinedAt: z.iso.datetime(),
  })
  .meta({ id: 'TeamMember' });
export type TeamMemberView = z.infer<typeof teamMemberSchema>;
export const teamMemberPageSchema = z.object({
  items: z.array(teamMemberSchema),
  nextCursor: z.string().nullable(),
});
