import { z } from 'zod';
import { emailAddress, limitSchema, orgRoleSchema } from '@trellis/shared';
import { INVITATION_STATES } from './invitations.model.ts';

export const invitationParams = z.object({ orgId: z.uuid(), invitationId: z.uuid() });
export const createInvitationBody = z.object({
  email: emailAddress(),
  role: orgRoleSchema.exclude(['OWNER'], { error: 'OWNER is only given by an ownership transfer' }),
});
export const listInvitationsQuery = z.object({
  state: z.enum(INVITATION_STATES).optional(),
  limit: limitSchema,
  cursor: z.string().min(1).max(500).optional(),
});
export const myInvitationsQuery = z.object({
  limit: limitSchema,
  cursor: z.string().min(1).max(500).optional(),
});
export const tokenBody = z.object({ token: z.string().min(20).max(200) });

export const invitationSchema = z
  .object({
    id: z.uuid(),
    orgId: z.uuid(),
    email: z.string(),
    role: orgRoleSchema,
    /** EXPIRED as soon as `expiresAt` has passed, whether or not the hourly sweep has written it. */
    state: z.enum(INVITATION_STATES),
    /** null while PENDING_APPROVAL (the 7 days start when the invitation is issued). */
    expiresAt: z.iso.datetime().nullable(),
    invitedBy: z.uuid(),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'Invitation' });
export type InvitationView = z.infer<typeof invitationSchema>;

export const invitationPageSchema = z.object({
  items: z.array(invitationSchema),
  nextCursor: z.string().nullable(),
});
export const myInvitationSchema = invitationSchema.extend({ orgName: z.string() });
export type MyInvitationView = z.infer<typeof myInvitationSchema>;
export const myInvitationPageSchema = z.object({
  items: z.array(myInvitationSchema),
  nextCursor: z.string().nullable(),
});
export const acceptedSchema = z.object({ orgId: z.uuid(), role: orgRoleSchema });
