import type { ApprovalInstance } from './approvals.model.ts';
import type { ApprovalView } from './approvals.schemas.ts';

export function toApprovalView(approval: ApprovalInstance): ApprovalView {
  return {
    id: approval.id,
    orgId: approval.orgId,
    kind: approval.kind,
    state: approval.state,
    requestedBy: approval.requestedBy,
    payload: approval.payload,
    decidedBy: approval.decidedBy,
    decision: approval.decision,
    reason: approval.reason,
    decidedAt: approval.decidedAt ? approval.decidedAt.toISOString() : null,
    createdAt: approval.createdAt.toISOString(),
  };
}

export function approvalData(approval: ApprovalInstance) {
  return {
    approvalId: approval.id,
    orgId: approval.orgId,
    kind: approval.kind,
    requestedBy: approval.requestedBy,
    payload: approval.payload,
  };
}
