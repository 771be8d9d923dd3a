import { z } from 'zod';
import { orgRoleSchema, planSchema, projectRoleSchema, teamRoleSchema } from '@trellis/shared';

const requireApproval = z.object({
  invites: z.boolean(),
  roleChanges: z.boolean(),
  removals: z.boolean(),
  teamCreation: z.boolean(),
  projectCreation: z.boolean(),
});

/** Explicit thresholds only (an action left out uses its default); `thresholdsInForce` lists them all. */
export const orgSettingsSchema = z
  .object({
    thresholds: z.record(z.string(), orgRoleSchema),
    projectDefaults: z.record(z.string(), projectRoleSchema),
    allowSelfRemoval: z.boolean(),
    allowJoinRequests: z.boolean(),
    defaultMemberRole: orgRoleSchema,
    requireApproval,
    plan: planSchema,
    thresholdsInForce: z.record(z.string(), orgRoleSchema),
  })
  .meta({ id: 'OrgSettings' });

export const teamSettingsSchema = z
  .object({
    thresholds: z.record(z.string(), teamRoleSchema),
    projectDefaults: z.record(z.string(), projectRoleSchema),
    thresholdsInForce: z.record(z.string(), teamRoleSchema),
  })
  .meta({ id: 'TeamSettings' });
