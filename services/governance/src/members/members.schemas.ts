import { z } from 'zod';
import { limitSchema, orgRoleSchema, text } from '@trellis/shared';

export const memberParams = z.object({ orgId: z.uuid(), userId: z.uuid() });
export const listMembersQuery = z.object({
  role: orgRoleSchema.optional(),
  q: text(100).optional(),
  limit: limitSchema,
  cursor: z.string().min(1).max(500).optional(),
});
export const changeRoleBody = z.object({ role: orgRoleSchema });

export const memberSchema = z
  .object({
    userId: z.uuid(),
    /** null until the user directory has heard of the user (identity's event still in flight). */
    name: z.string().nullable(),
    email: z.string().nullable(),
    role: orgRoleSchema,
    joinedAt: z.iso.datetime(),
  })
  .meta({ id: 'OrgMember' });
export type MemberView = z.infer<typeof memberSchema>;

export const memberPageSchema = z.object({ items: z.array(memberSchema), nextCursor: z.string().nullable() });
