import { z } from 'zod';
import { defineEvent } from '../registry.ts';

// notify.webhook (keyed by webhook id): an org's webhook subscriptions (api.md §10). They enter the
// org's audit log like every other topic's events. Never the signing secret: only that it changed;
// `url` is the target's origin only (receivers' paths and queries often carry a credential).

const webhookData = z.object({
  webhookId: z.uuid(),
  orgId: z.uuid(),
  url: z.string(),
  events: z.array(z.string()),
  description: z.string().nullable(),
  active: z.boolean(),
});

export const webhookCreated = defineEvent({
  type: 'webhook.created',
  topic: 'notify.webhook',
  version: 1,
  data: webhookData,
});
/** `changed`: the fields the update set. */
export const webhookUpdated = defineEvent({
  type: 'webhook.updated',
  topic: 'notify.webhook',
  version: 1,
  data: webhookData.extend({ changed: z.array(z.string()) }),
});
export const webhookDeleted = defineEvent({
  type: 'webhook.deleted',
  topic: 'notify.webhook',
  version: 1,
  data: z.object({ webhookId: z.uuid(), orgId: z.uuid() }),
});
/** A new signing secret; the previous one keeps signing until `previousExpiresAt`. */
export const webhookSecretRotated = defineEvent({
  type: 'webhook.secretRotated',
  topic: 'notify.webhook',
  version: 1,
  data: z.object({ webhookId: z.uuid(), orgId: z.uuid(), previousExpiresAt: z.iso.datetime() }),
});
/** Turned off after failing too long; the org's ADMINs are told (in-app and by e-mail). */
export const webhookDisabled = defineEvent({
  type: 'webhook.disabled',
  topic: 'notify.webhook',
  version: 1,
  data: z.object({
    webhookId: z.uuid(),
    orgId: z.uuid(),
    url: z.string(),
    reason: z.string(),
    failures: z.number().int().nonnegative(),
  }),
});
