import { z } from 'zod';
import { limitSchema, orgRoleSchema, planSchema, text } from '@trellis/shared';

export const orgNameSchema = text(100);
/** Letters, digits and single dashes between them; kept in lower case. */
export const slugSchema = z
  .string()
  .min(2)
  .max(50)
  .regex(/^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$/, 'Letters, digits and single dashes between them')
  .toLowerCase();

export const createOrgBody = z.object({ name: orgNameSchema, slug: slugSchema.optional() });
export const updateOrgBody = z.object({ name: orgNameSchema });
export const transferOwnershipBody = z.object({ userId: z.uuid() });
export const orgIdParams = z.object({ orgId: z.uuid() });
export const slugParams = z.object({ slug: z.string().min(1).max(100) });
export const pageQuery = z.object({ limit: limitSchema, cursor: z.string().min(1).max(500).optional() });

export const orgSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    slug: z.string(),
    ownerId: z.uuid(),
    plan: planSchema,
    createdAt: z.iso.datetime(),
    myRole: orgRoleSchema,
    version: z.number().int().min(1),
  })
  .meta({ id: 'Org' });
export type OrgView = z.infer<typeof orgSchema>;

export const orgPageSchema = z.object({ items: z.array(orgSchema), nextCursor: z.string().nullable() });
export const orgSummarySchema = z
  .object({ id: z.uuid(), name: z.string(), slug: z.string() })
  .meta({ id: 'OrgSummary' });
