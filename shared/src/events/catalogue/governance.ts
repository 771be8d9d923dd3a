import { z } from 'zod';
import { defineEvent } from '../registry.ts';

const orgData = z.object({
  orgId: z.uuid(),
  name: z.string().min(1),
  slug: z.string().min(1),
  ownerId: z.uuid(),
});

export const orgCreated = defineEvent({
  type: 'org.created',
  topic: 'governance.org',
  version: 1,
  data: orgData,
});
export const orgUpdated = defineEvent({
  type: 'org.updated',
  topic: 'governance.org',
  version: 1,
  data: orgData,
});
export const orgDeleted = defineEvent({
  type: 'org.deleted',
  topic: 'governance.org',
  version: 1,
  data: z.object({ orgId: z.uuid() }),
});
export const orgRestored = defineEvent({
  type: 'org.restored',
  topic: 'governance.org',
  version: 1,
  data: orgData,
});
export const orgOwnershipTransferred = defineEvent({
  type: 'org.ownershipTransferred',
  topic: 'governance.org',
  version: 1,
  data: z.object({ orgId: z.uuid(), fromUserId: z.uuid(), toUserId: z.uuid() }),
});

const orgRole = z.enum(['OWNER', 'ADMIN', 'MANAGER', 'MEMBER', 'VIEWER']);

export const memberAdded = defineEvent({
  type: 'member.added',
  topic: 'governance.membership',
  version: 1,
  data: z.object({ orgId: z.uuid(), userId: z.uuid(), role: orgRole }),
});
export const memberRoleChanged = defineEvent({
  type: 'member.roleChanged',
  topic: 'governance.membership',
  version: 1,
  data: z.object({ orgId: z.uuid(), userId: z.uuid(), from: orgRole, to: orgRole }),
});
export const memberRemoved = defineEvent({
  type: 'member.removed',
  topic: 'governance.membership',
  version: 1,
  data: z.object({ orgId: z.uuid(), userId: z.uuid(), reason: z.enum(['removed', 'left', 'user_deleted']) }),
});

/**
 * The org's whole settings after the change (thresholds, toggles, plan, projectDefaults), so a
 * projection can replace its copy without re-reading governance. Settings hold no secrets.
 */
export const orgSettingsChanged = defineEvent({
  type: 'org.settingsChanged',
  topic: 'governance.org',
  version: 1,
  data: z.object({ orgId: z.uuid(), settings: z.record(z.string(), z.unknown()) }),
});

const teamRole = z.enum(['OWNER', 'MANAGER', 'LEAD', 'MEMBER', 'VIEWER']);

const teamData = z.object({
  orgId: z.uuid(),
  teamId: z.uuid(),
  name: z.string().min(1),
  description: z.string().nullable(),
  ownerId: z.uuid(),
});

export const teamCreated = defineEvent({
  type: 'team.created',
  topic: 'governance.team',
  version: 1,
  data: teamData,
});
export const teamUpdated = defineEvent({
  type: 'team.updated',
  topic: 'governance.team',
  version: 1,
  data: teamData,
});
export const teamDeleted = defineEvent({
  type: 'team.deleted',
  topic: 'governance.team',
  version: 1,
  data: z.object({ orgId: z.uuid(), teamId: z.uuid() }),
});
export const teamOwnershipTransferred = defineEvent({
  type: 'team.ownershipTransferred',
  topic: 'governance.team',
  version: 1,
  data: z.object({ orgId: z.uuid(), teamId: z.uuid(), fromUserId: z.uuid(), toUserId: z.uuid() }),
});
/** The team's whole settings after the change (thresholds and projectDefaults). */
export const teamSettingsChanged = defineEvent({
  type: 'team.settingsChanged',
  topic: 'governance.team',
  version: 1,
  data: z.object({ orgId: z.uuid(), teamId: z.uuid(), settings: z.record(z.string(), z.unknown()) }),
});
export const teamMemberAdded = defineEvent({
  type: 'team.memberAdded',
  topic: 'governance.team',
  version: 1,
  data: z.object({ orgId: z.uuid(), teamId: z.uuid(), userId: z.uuid(), role: teamRole }),
});
export const teamMemberRoleChanged = defineEvent({
  type: 'team.memberRoleChanged',
  topic: 'governance.team',
  version: 1,
  data: z.object({ orgId: z.uuid(), teamId: z.uuid(), userId: z.uuid(), from: teamRole, to: teamRole }),
});
/** `org_removed`: the user left or was removed from the org, which takes them off its teams. */
export const teamMemberRemoved = defineEvent({
  type: 'team.memberRemoved',
  topic: 'governance.team',
  version: 1,
  data: z.object({
    orgId: z.uuid(),
    teamId: z.uuid(),
    userId: z.uuid(),
    reason: z.enum(['removed', 'left', 'org_removed', 'user_deleted']),
  }),
});

/**
 * An invitation e-mail for notify to send. It carries the single-use token, so it travels on
 * `governance.mail`, which only notify reads (never `governance.invitation`, never the audit log).
 */
export const invitationMailRequested = defineEvent({
  type: 'invitation.mailRequested',
  topic: 'governance.mail',
  version: 1,
  data: z.object({
    invitationId: z.uuid(),
    to: z.email(),
    token: z.string().min(20),
    orgName: z.string(),
    inviterName: z.string(),
    role: orgRole,
    expiresAt: z.iso.datetime(),
  }),
});

// governance.invitation: invitations addressed to an invitee (never the token; that travels only
// on governance.mail). An invitation awaiting approval shows up through approval events alone
// until it is approved; `invitation.created` is published when it is issued (state PENDING).

const invitationData = z.object({
  invitationId: z.uuid(),
  orgId: z.uuid(),
  email: z.email(),
  role: orgRole,
  invitedBy: z.uuid(),
  expiresAt: z.iso.datetime(),
});

export const invitationCreated = defineEvent({
  type: 'invitation.created',
  topic: 'governance.invitation',
  version: 1,
  data: invitationData,
});
/** A new token and expiry; the old token is dead. */
export const invitationResent = defineEvent({
  type: 'invitation.resent',
  topic: 'governance.invitation',
  version: 1,
  data: invitationData,
});
export const invitationAccepted = defineEvent({
  type: 'invitation.accepted',
  topic: 'governance.invitation',
  version: 1,
  data: z.object({
    invitationId: z.uuid(),
    orgId: z.uuid(),
    email: z.email(),
    role: orgRole,
    userId: z.uuid(),
  }),
});
export const invitationDeclined = defineEvent({
  type: 'invitation.declined',
  topic: 'governance.invitation',
  version: 1,
  data: z.object({ invitationId: z.uuid(), orgId: z.uuid(), email: z.email(), userId: z.uuid() }),
});
export const invitationRevoked = defineEvent({
  type: 'invitation.revoked',
  topic: 'governance.invitation',
  version: 1,
  data: z.object({ invitationId: z.uuid(), orgId: z.uuid(), email: z.email() }),
});
export const invitationExpired = defineEvent({
  type: 'invitation.expired',
  topic: 'governance.invitation',
  version: 1,
  data: z.object({ invitationId: z.uuid(), orgId: z.uuid(), email: z.email() }),
});

// governance.approval (product.md §5). `payload` is the intended action, as the approval holds it.

const approvalKind = z.enum([
  'invitation.send',
  'member.updateRole',
  'member.remove',
  'team.create',
  'project.create',
  'membership.join',
]);
const approvalData = z.object({
  approvalId: z.uuid(),
  orgId: z.uuid(),
  kind: approvalKind,
  requestedBy: z.uuid(),
  payload: z.record(z.string(), z.unknown()),
});

export const approvalRequested = defineEvent({
  type: 'approval.requested',
  topic: 'governance.approval',
  version: 1,
  data: approvalData,
});
/**
 * `APPROVED`: the action was executed (for `project.create`, work activates the project);
 * `REJECTED`: nothing happened (work discards the project); `FAILED`: approved, but the re-run
 * checks refused the action, so nothing happened either (`reason` says why).
 */
export const approvalDecided = defineEvent({
  type: 'approval.decided',
  topic: 'governance.approval',
  version: 1,
  data: approvalData.extend({
    decision: z.enum(['APPROVED', 'REJECTED', 'FAILED']),
    decidedBy: z.uuid(),
    reason: z.string().nullable(),
  }),
});
export const approvalCancelled = defineEvent({
  type: 'approval.cancelled',
  topic: 'governance.approval',
  version: 1,
  data: approvalData,
});
