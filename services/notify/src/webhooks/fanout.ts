import { CoalescedInserts, type ConsumerOptions, type EventEnvelope } from '@trellis/shared';
import type { WebhookDispatcher } from './dispatcher.ts';
import type { EventFeed } from './feed.ts';
import type { WebhookDelivery, WebhookModels } from './webhook.model.ts';
import { PUBLIC_TOPICS, publicEvent } from './webhook.rules.ts';
import type { WebhookService } from './webhooks.service.ts';
import { newDelivery } from './webhooks.views.ts';

/** notify's consumer group for the event feed and webhook deliveries. */
export const WEBHOOK_CONSUMER_GROUP = 'notify-webhooks';

/**
 * Every public org event into the org's feed, then one delivery per webhook that takes its type,
 * handed to the dispatcher at once. Idempotent: a redelivered event finds its feed entry, and its
 * deliveries' ids derive from (webhook, event). One lane per subject, so a task's events enter the
 * feed, and reach each webhook, in the order they happened.
 */
export function webhookConsumer(deps: {
  feed: EventFeed;
  webhooks: WebhookService;
  models: WebhookModels;
  dispatcher: WebhookDispatcher;
}): ConsumerOptions {
  // Concurrent lanes' deliveries in one insert per turn.
  const inserts = new CoalescedInserts(deps.models.Delivery);
  return {
    groupId: WEBHOOK_CONSUMER_GROUP,
    topics: [...PUBLIC_TOPICS],
    maxAttempts: 6,
    keyConcurrency: 8,
    handle: async ({ event, topic }) => {
      if (!event.orgId) return 'skip';
      const envelope = publicEvent(event as EventEnvelope & { orgId: string }, topic);
      const entry = await deps.feed.append(envelope);
      const hooks = await deps.webhooks.subscribers(event.orgId, event.type);
      if (hooks.length === 0) return;
      const now = new Date();
      const deliveries: WebhookDelivery[] = hooks.map((hook) => newDelivery(hook, envelope, entry.seq, now));
      // Refused as already there (a redelivered event): those went their way already, maybe long since.
      const inserted = await Promise.all(deliveries.map((delivery) => inserts.insert(delivery)));
      deps.dispatcher.kick(deliveries.filter((_, i) => inserted[i]));
    },
  };
}
