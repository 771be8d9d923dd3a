import type { Request } from 'express';
import { z } from 'zod';
import {
  blankableText,
  commaList,
  currentUser,
  etagOf,
  limitSchema,
  patchBody,
  type Route,
  route,
  text,
} from '@trellis/shared';
import type { DeliveryService } from './deliveries.service.ts';
import type { WebhookService } from './webhooks.service.ts';

const tags = ['webhooks'];
const denied = { description: 'The org policy webhook.manage denies it (POLICY_DENIED with `policy`)' };
const unknown = { description: 'No such webhook, or not in an org of the caller' };

const EVENT = '\\*|[a-z][A-Za-z]*\\.(\\*|[a-z][A-Za-z]*)';
const eventMessage = 'an event type (task.created), a family (task.*) or *';
const eventPattern = z.string().regex(new RegExp(`^(${EVENT})$`), eventMessage);
const events = z.array(eventPattern).min(1).max(50);
const url = text(2000);
const description = blankableText(500).nullable();

const createBody = z.strictObject({ url, events, description: description.optional() });
const webhookPatchBody = patchBody(
  {
    url: url.optional(),
    events: events.optional(),
    description: description.optional(),
    active: z.boolean().optional(),
  },
  'Nothing to change',
);

const webhookSchema = z
  .object({
    id: z.uuid(),
    orgId: z.uuid(),
    url: z.string(),
    events: z.array(z.string()),
    description: z.string().nullable(),
    active: z.boolean(),
    createdBy: z.uuid(),
    disabledAt: z.iso.datetime().nullable(),
    disabledReason: z.string().nullable(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    version: z.number().int().min(1),
  })
  .meta({ id: 'Webhook' });
const deliverySchema = z
  .object({
    id: z.uuid(),
    webhookId: z.uuid(),
    eventId: z.uuid(),
    type: z.string(),
    state: z.enum(['PENDING', 'SUCCEEDED', 'FAILED']),
    attempts: z.array(
      z.object({
        at: z.iso.datetime(),
        status: z.number().int().nullable(),
        durationMs: z.number().int(),
        error: z.string().nullable(),
      }),
    ),
    nextAttemptAt: z.iso.datetime().nullable(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'WebhookDelivery' });
const eventSchema = z
  .object({
    id: z.uuid(),
    type: z.string(),
    occurredAt: z.string(),
    orgId: z.uuid(),
    actorId: z.uuid().nullable(),
    subject: z.object({ kind: z.string(), id: z.string() }),
    data: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'OrgEvent' });

const orgParams = z.strictObject({ orgId: z.uuid() });
const idParams = z.strictObject({ id: z.uuid() });
const deliveryParams = z.strictObject({ id: z.uuid(), deliveryId: z.uuid() });
const cursor = z.string().min(1).max(500).optional();
const deliveriesQuery = z.strictObject({
  state: z.enum(['PENDING', 'SUCCEEDED', 'FAILED']).optional(),
  limit: limitSchema,
  cursor,
});
const eventsQuery = z.strictObject({
  after: cursor,
  /** Comma-separated types or families: `task.*,comment.created`. */
  types: commaList(EVENT, {
    message: `A comma-separated list, each ${eventMessage}`,
    emptyItems: 'skipped',
    max: 1000,
  })
    .pipe(z.array(eventPattern))
    .optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export function webhookRoutes(webhooks: WebhookService, deliveries: DeliveryService): Route[] {
  const caller = (req: Request) => ({ id: currentUser(req).id, authorization: req.get('authorization') });
  const id = (req: Request) => String(req.params.id);
  return [
    route({
      method: 'post',
      path: '/api/v1/orgs/{orgId}/webhooks',
      policy: { scope: 'org', action: 'webhook.manage' },
      summary: 'Subscribe a URL to the org’s events (org policy webhook.manage); the secret is shown once',
      tags,
      // No Idempotency-Key: the answer holds the signing secret, which must not be kept elsewhere.
      idempotent: false,
      params: orgParams,
      body: createBody,
      responses: {
        201: {
          description: 'The webhook with its signing secret (Location, ETag)',
          schema: webhookSchema.extend({ secret: z.string() }),
        },
        403: denied,
        404: { description: 'Not a member of the org' },
        409: { description: 'The org has 25 webhooks already' },
        422: { description: 'URL refused (scheme, private address) or unknown event types' },
      },
      handle: async (req, res) => {
        const webhook = await webhooks.create(String(req.params.orgId), caller(req), req.body);
        res.status(201).location(`/api/v1/webhooks/${webhook.id}`).set('ETag', etagOf(webhook)).json(webhook);
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/orgs/{orgId}/webhooks',
      policy: { scope: 'org', action: 'webhook.manage' },
      summary: 'The org’s webhooks',
      tags,
      params: orgParams,
      responses: {
        200: {
          description: 'The webhooks, oldest first',
          schema: z.object({ items: z.array(webhookSchema), nextCursor: z.string().nullable() }),
        },
        403: denied,
        404: { description: 'Not a member of the org' },
      },
      handle: async (req, res) => {
        res.json(await webhooks.list(String(req.params.orgId), caller(req)));
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/webhooks/{id}',
      policy: { scope: 'org', action: 'webhook.manage' },
      summary: 'One webhook (never its secret)',
      tags,
      params: idParams,
      responses: {
        200: { description: 'The webhook (ETag)', schema: webhookSchema },
        403: denied,
        404: unknown,
      },
      handle: async (req, res) => {
        const webhook = await webhooks.get(id(req), caller(req));
        res.set('ETag', etagOf(webhook)).json(webhook);
      },
    }),
    route({
      method: 'patch',
      path: '/api/v1/webhooks/{id}',
      policy: { scope: 'org', action: 'webhook.manage' },
      summary: 'Change the URL, events, description or active (If-Match optional)',
      tags,
      params: idParams,
      body: webhookPatchBody,
      responses: {
        200: { description: 'The webhook (ETag)', schema: webhookSchema },
        403: denied,
        404: unknown,
        412: { description: 'If-Match does not match the current version' },
        422: { description: 'URL refused or unknown event types' },
      },
      handle: async (req, res) => {
        const webhook = await webhooks.update(id(req), caller(req), req.body, req.get('if-match'));
        res.set('ETag', etagOf(webhook)).json(webhook);
      },
    }),
    route({
      method: 'delete',
      path: '/api/v1/webhooks/{id}',
      policy: { scope: 'org', action: 'webhook.manage' },
      summary: 'Delete a webhook (its pending deliveries are dropped)',
      tags,
      params: idParams,
      responses: { 204: { description: 'Deleted' }, 403: denied, 404: unknown },
      handle: async (req, res) => {
        await webhooks.remove(id(req), caller(req));
        res.status(204).end();
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/webhooks/{id}/rotate-secret',
      policy: { scope: 'org', action: 'webhook.manage' },
      summary: 'A new signing secret, shown once; the old one also signs for 24 h',
      tags,
      // No Idempotency-Key: the answer holds the new signing secret.
      idempotent: false,
      params: idParams,
      responses: {
        200: {
          description: 'The new secret',
          schema: z.object({ secret: z.string(), previousExpiresAt: z.iso.datetime() }),
        },
        403: denied,
        404: unknown,
      },
      handle: async (req, res) => {
        res.json(await webhooks.rotateSecret(id(req), caller(req)));
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/webhooks/{id}/ping',
      policy: { scope: 'org', action: 'webhook.manage' },
      summary: 'Send a webhook.ping delivery now',
      tags,
      params: idParams,
      responses: {
        202: { description: 'The delivery, on its way', schema: deliverySchema },
        403: denied,
        404: unknown,
      },
      handle: async (req, res) => {
        res.status(202).json(await deliveries.ping(id(req), caller(req)));
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/webhooks/{id}/deliveries',
      policy: { scope: 'org', action: 'webhook.manage' },
      summary: 'The delivery log, newest first: attempts, statuses, durations, next attempt',
      tags,
      params: idParams,
      query: deliveriesQuery,
      responses: {
        200: {
          description: 'A page of deliveries',
          schema: z.object({ items: z.array(deliverySchema), nextCursor: z.string().nullable() }),
        },
        403: denied,
        404: unknown,
      },
      handle: async (req, res) => {
        res.json(await deliveries.deliveries(id(req), caller(req), req.query));
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver',
      policy: { scope: 'org', action: 'webhook.manage' },
      summary: 'Send a delivery again, with the same webhook-id, on a fresh schedule',
      tags,
      params: deliveryParams,
      responses: {
        202: { description: 'The delivery, pending again', schema: deliverySchema },
        403: denied,
        404: unknown,
      },
      handle: async (req, res) => {
        res.status(202).json(await deliveries.redeliver(id(req), String(req.params.deliveryId), caller(req)));
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/orgs/{orgId}/events',
      policy: { scope: 'org', action: 'webhook.manage' },
      cursorParam: 'after',
      summary: 'The org’s events after a cursor, oldest first, kept 30 days (org policy webhook.manage)',
      tags,
      params: orgParams,
      query: eventsQuery,
      responses: {
        200: {
          description:
            'Events as webhooks receive them; `position` is where to continue from, `nextCursor` is set while more are already there',
          schema: z.object({
            items: z.array(eventSchema),
            nextCursor: z.string().nullable(),
            position: z.string(),
          }),
        },
        403: denied,
        404: { description: 'Not a member of the org' },
      },
      handle: async (req, res) => {
        res.json(await deliveries.events(String(req.params.orgId), caller(req), req.query));
      },
    }),
  ];
}
