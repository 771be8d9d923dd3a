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
