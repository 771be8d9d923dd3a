import type { DeliveryState, Webhook, WebhookDelivery } from './webhook.model.ts';
import { derivedId } from '../derived-id.ts';
import type { PublicEvent } from './webhook.rules.ts';
import { wakeBucket } from './dispatcher.ts';

// What the webhook API shows of its documents, and how a delivery is made from an event.

/** How long a new delivery is its creator's alone before any replica's poll picks it up. */
const UNCLAIMED_AFTER_MS = 30_000;

export interface WebhookView {
  id: string;
  orgId: string;
  url: string;
  events: string[];
  description: string | null;
  active: boolean;
  createdBy: string;
  disabledAt: string | null;
  disabledReason: string | null;
  createdAt: string;
  updatedAt: string;
  version: number;
}

export interface DeliveryView {
  id: string;
  webhookId: string;
  eventId: string;
  type: string;
  state: DeliveryState;
  attempts: { at: string; status: number | null; durationMs: number; error: string | null }[];
  nextAttemptAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export function webhookView(w: Webhook): WebhookView {
  return {
    id: w._id,
    orgId: w.orgId,
    url: w.url,
    events: w.events,
    description: w.description,
    active: w.active,
    createdBy: w.createdBy,
    disabledAt: w.disabledAt?.toISOString() ?? null,
    disabledReason: w.disabledReason,
    createdAt: w.createdAt.toISOString(),
    updatedAt: w.updatedAt.toISOString(),
    version: w.version,
  };
}

export function deliveryView(d: WebhookDelivery): DeliveryView {
  return {
    id: d._id,
    webhookId: d.webhookId,
    eventId: d.eventId,
    type: d.type,
    state: d.state,
    attempts: d.attempts.map((a) => ({
      at: a.at.toISOString(),
      status: a.status,
      durationMs: a.durationMs,
      error: a.error,
    })),
    nextAttemptAt: d.nextAttemptAt?.toISOString() ?? null,
    createdAt: d.createdAt.toISOString(),
    updatedAt: d.updatedAt.toISOString(),
  };
}

/**
 * A target as events name it: its origin only. Receivers' URLs often carry a credential in the path or
 * query (chat incoming-webhook URLs do), and events reach the audit log and other webhooks.
 */
export function targetOrigin(url: string): string {
  return new URL(url).origin;
}

export function newDelivery(
  webhook: Pick<Webhook, '_id' | 'orgId'>,
  event: PublicEvent,
  seq: number,
  now: Date,
): WebhookDelivery {
  return {
    _id: derivedId(webhook._id, event.id),
    webhookId: webhook._id,
    orgId: webhook.orgId,
    eventId: event.id,
    type: event.type,
    chain: `${webhook._id}:${event.subject.kind}:${event.subject.id}`,
    seq,
    payload: JSON.stringify(event),
    state: 'PENDING',
    attempts: [],
    tries: 0,
    nextAttemptAt: now,
    // The replica that creates it sends it; the others look only if it is still pending by then.
    wake: wakeBucket(new Date(now.getTime() + UNCLAIMED_AFTER_MS)),
    createdAt: now,
    updatedAt: now,
  };
}
