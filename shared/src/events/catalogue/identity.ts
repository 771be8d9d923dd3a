import { z } from 'zod';
import { defineEvent } from '../registry.ts';

const userData = z.object({ userId: z.uuid(), email: z.email(), name: z.string().min(1) });

export const userRegistered = defineEvent({
  type: 'user.registered',
  topic: 'identity.user',
  version: 1,
  data: userData,
});

export const userUpdated = defineEvent({
  type: 'user.updated',
  topic: 'identity.user',
  version: 1,
  data: userData,
});

export const userDeleted = defineEvent({
  type: 'user.deleted',
  topic: 'identity.user',
  version: 1,
  data: z.object({ userId: z.uuid() }),
});

export const userEmailVerified = defineEvent({
  type: 'user.emailVerified',
  topic: 'identity.user',
  version: 1,
  data: z.object({ userId: z.uuid(), email: z.email() }),
});

/** Tells the gateway to reject an access token before it expires (logout, reuse, reset). */
export const sessionRevoked = defineEvent({
  type: 'session.revoked',
  topic: 'identity.session',
  version: 1,
  data: z.object({
    userId: z.uuid(),
    familyId: z.uuid().nullable(),
    jti: z.string().nullable(),
    /** When the revoked access token would have expired anyway; the deny-list forgets it then. */
    expiresAt: z.iso.datetime().nullable(),
    reason: z.enum(['logout', 'refresh_reuse', 'password_reset', 'password_change', 'account_deleted']),
  }),
});

/**
 * Mail for notify to send. It is addressed to notify alone: its params may carry a one-time code,
 * so the audit log and any other consumer must not copy this topic.
 */
export const mailRequested = defineEvent({
  type: 'mail.requested',
  topic: 'identity.mail',
  version: 1,
  data: z.object({
    template: z.enum(['password-reset', 'email-verification', 'welcome']),
    to: z.email(),
    params: z.record(z.string(), z.string()),
  }),
});
