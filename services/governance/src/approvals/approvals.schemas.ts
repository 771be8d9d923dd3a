import { z } from 'zod';
import { limitSchema, text } from '@trellis/shared';
import { APPROVAL_KINDS, APPROVAL_STATES } from './approvals.model.ts';

export const approvalParams = z.object({ orgId: z.uuid(), approvalId: z.uuid() });
export const listApprovalsQuery = z.object({
  state: z.enum(APPROVAL_STATES).optional(),
  limit: limitSchema,
  cursor: z.string().min(1).max(500).optional(),
});
// Both bodies are optional: a bare POST is an approval (rejection) without a comment (reason).
export const approveBody = z.object({ comment: text(1000).optional() }).default({});
export const rejectBody = z.object({ reason: text(1000).optional() }).default({});

export const approvalSchema = z
  .object({
    id: z.uuid(),
    orgId: z.uuid(),
    kind: z.enum(APPROVAL_KINDS),
    state: z.enum(APPROVAL_STATES),
    requestedBy: z.uuid(),
    /** The intended action, e.g. `{userId}` for member.remove, `{invitationId, email, role}` for invitation.send. */
    payload: z.record(z.string(), z.unknown()),
    /** null while PENDING (and when CANCELLED). */
    decidedBy: z.uuid().nullable(),
    decision: z.enum(['APPROVED', 'REJECTED']).nullable(),
    /** The approver's comment, the rejecter's reason, or (FAILED) why the approved action could not run. */
    reason: z.string().nullable(),
    decidedAt: z.iso.datetime().nullable(),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'Approval' });
export type ApprovalView = z.infer<typeof approvalSchema>;

/** The 202 answer of a gated action (api.md §3). */
export const pendingApprovalSchema = z.object({ approval: approvalSchema });
export const approvalPageSchema = z.object({
  items: z.array(approvalSchema),
  nextCursor: z.string().nullable(),
});
