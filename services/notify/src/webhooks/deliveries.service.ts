import { randomUUID } from 'node:crypto';
import { decodeCursor, encodeCursor, errors, type Page } from '@trellis/shared';
import { z } from 'zod';
import { wakeBucket, type WebhookDispatcher } from './dispatcher.ts';
import type { EventFeed } from './feed.ts';
import type { EventVisibility } from './visibility.ts';
import type { Caller, WebhookAccess } from './webhook.access.ts';
import type { DeliveryState, WebhookDelivery, WebhookModels } from './webhook.model.ts';
import { PING_TYPE, type PublicEvent } from './webhook.rules.ts';
import { deliveryView, newDelivery, type DeliveryView } from './webhooks.views.ts';

const deliveryCursor = z.object({ c: z.number(), id: z.string() });
const feedCursor = z.object({ s: z.number().int().nonnegative() });

/**
 * What an org's integrations read and replay (api.md §10): a webhook's delivery log, redelivery and
 * ping, and the org's event feed — all under `webhook.manage`.
 */
export class DeliveryService {
  private readonly m: WebhookModels;
  private readonly access: WebhookAccess;
  private readonly feed: EventFeed;
  private readonly visibility: EventVisibility;
  private readonly dispatcher: WebhookDispatcher;

  constructor(deps: {
    models: WebhookModels;
    access: WebhookAccess;
    feed: EventFeed;
    visibility: EventVisibility;
    dispatcher: WebhookDispatcher;
  }) {
    this.m = deps.models;
    this.access = deps.access;
    this.feed = deps.feed;
    this.visibility = deps.visibility;
    this.dispatcher = deps.dispatcher;
  }

  /** A `webhook.ping` delivery, sent at once like any other (and logged). */
  async ping(id: string, caller: Caller): Promise<DeliveryView> {
    const webhook = await this.access.owned(id, caller);
    const now = new Date();
    const event: PublicEvent = {
      id: randomUUID(),
      type: PING_TYPE,
      occurredAt: now.toISOString(),
      orgId: webhook.orgId,
      actorId: caller.id,
      subject: { kind: 'webhook', id },
      data: { webhookId: id },
    };
    const delivery = newDelivery(webhook, event, 0, now);
    await this.m.Delivery.create(delivery);
    this.dispatcher.kick([delivery]);
    return deliveryView(delivery);
  }

  async deliveries(
    id: string,
    caller: Caller,
    query: { state?: DeliveryState | undefined; limit: number; cursor?: string | undefined },
  ): Promise<Page<DeliveryView>> {
    await this.access.owned(id, caller);
    const position = query.cursor ? decodeCursor(query.cursor, deliveryCursor) : null;
    const rows = (
      await this.m.Delivery.find({ webhookId: id, ...(query.state ? { state: query.state } : {}) }).lean<
        WebhookDelivery[]
      >()
    )
      .map((d) => ({ d, c: d.createdAt.getTime() }))
      .filter(({ d, c }) => !position || c < position.c || (c === position.c && d._id < position.id))
      .sort((a, b) => b.c - a.c || (a.d._id < b.d._id ? 1 : -1));
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    return {
      items: page.map(({ d }) => deliveryView(d)),
      nextCursor: rows.length > query.limit && last ? encodeCursor({ c: last.c, id: last.d._id }) : null,
    };
  }

  /** Sends a delivery again with the same `webhook-id`, on a fresh schedule. */
  async redeliver(id: string, deliveryId: string, caller: Caller): Promise<DeliveryView> {
    await this.access.owned(id, caller);
    const now = new Date();
    const delivery = await this.m.Delivery.findOneAndUpdate(
      { _id: deliveryId, webhookId: id },
      { $set: { state: 'PENDING', tries: 0, nextAttemptAt: now, wake: wakeBucket(now), updatedAt: now } },
      { new: true },
    ).lean<WebhookDelivery>();
    if (!delivery) throw errors.notFound('delivery');
    this.dispatcher.kick([delivery]);
    return deliveryView(delivery);
  }

  /** The org's events after the cursor, oldest first, as the caller may see them. */
  async events(
    orgId: string,
    caller: Caller,
    query: { after?: string | undefined; types?: string[] | undefined; limit: number },
  ): Promise<Page<PublicEvent> & { position: string }> {
    await this.access.manage(orgId, caller);
    const after = query.after ? decodeCursor(query.after, feedCursor).s : 0;
    const page = await this.feed.page({
      orgId,
      after,
      types: query.types && query.types.length > 0 ? query.types : null,
      limit: query.limit,
      visible: async (entry) =>
        (await this.visibility.visible(caller.id, {
          orgId,
          projectId: entry.projectId,
          channelId: entry.channelId,
        })) === true,
    });
    const position = encodeCursor({ s: page.position });
    return { items: page.items, nextCursor: page.more ? position : null, position };
  }
}
