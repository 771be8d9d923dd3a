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
