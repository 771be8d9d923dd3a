import { randomUUID } from 'node:crypto';
import {
  authorize,
  createEvent,
  decodeCursor,
  encodeCursor,
  errors,
  ifMatchPasses,
  notifyEvents,
  RecentMap,
  type AccessReader,
  type OutboxWriter,
  type Page,
} from '@trellis/shared';
import { z } from 'zod';
import type { WebhookDispatcher } from './dispatcher.ts';
import { wakeBucket } from './dispatcher.ts';
import type { EventFeed } from './feed.ts';
import { refusal, type TargetPolicy } from './target-guard.ts';
import type { EventVisibility } from './visibility.ts';
import type { DeliveryState, Webhook, WebhookDelivery, WebhookModels } from './webhook.model.ts';
import {
  derivedId,
  matchesEvent,
  newSecret,
  PING_TYPE,
  unknownPatterns,
  type PublicEvent,
} from './webhook.rules.ts';

const SOURCE = 'notify';
/** Webhooks an org may have: each costs every event of the org a match, and a busy one its slots. */
export const MAX_WEBHOOKS_PER_ORG = 25;
/** How long a new delivery is its creator's alone before any replica's poll picks it up. */
const UNCLAIMED_AFTER_MS = 30_000;

/** Who is calling, with the bearer token the projection's fallbacks forward. */
export interface Caller {
  id: string;
  authorization: string | undefined;
}

export interface WebhookInput {
  url: string;
  events: string[];
  description?: string | null | undefined;
}

export interface WebhookPatch {
  url?: string | undefined;
  events?: string[] | undefined;
  description?: string | null | undefined;
  active?: boolean | undefined;
}

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

function deliveryView(d: WebhookDelivery): DeliveryView {
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

const deliveryCursor = z.object({ c: z.number(), id: z.string() });
const feedCursor = z.object({ s: z.number().int().nonnegative() });

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

/**
 * The webhook use cases (api.md §10): subscriptions under the org policy `webhook.manage`, their
 * delivery log and redelivery, and the org's event feed. Another org's webhook, or an org the
 * caller is not in, is a 404.
 */
export class WebhookService {
  private readonly m: WebhookModels;
  private readonly reader: AccessReader;
  private readonly outbox: OutboxWriter;
  private readonly feed: EventFeed;
  private readonly visibility: EventVisibility;
  private readonly policy: TargetPolicy;
  private readonly secretOverlapMs: number;
  private dispatcher: WebhookDispatcher | undefined;
  /** Each org's live webhooks, kept 1 s for the fan-out (forgotten here at once on a change). */
  private readonly active = new RecentMap<Webhook[]>({ ttlMs: 1_000, maxEntries: 10_000 });

  constructor(deps: {
    models: WebhookModels;
    reader: AccessReader;
    outbox: OutboxWriter;
    feed: EventFeed;
    visibility: EventVisibility;
    policy: TargetPolicy;
    secretOverlapMs: number;
  }) {
    this.m = deps.models;
    this.reader = deps.reader;
    this.outbox = deps.outbox;
    this.feed = deps.feed;
    this.visibility = deps.visibility;
    this.policy = deps.policy;
    this.secretOverlapMs = deps.secretOverlapMs;
  }

  /** The dispatcher new deliveries are handed to (it calls back here to disable webhooks). */
  attach(dispatcher: WebhookDispatcher): void {
    this.dispatcher = dispatcher;
  }

  /** The caller's org, where they may manage webhooks; 404 outside it, 403 POLICY_DENIED below it. */
  private async manage(orgId: string, caller: Caller): Promise<void> {
    const org = await this.reader.org(orgId, caller.id, caller.authorization);
    if (!org) throw errors.notFound('organization');
    authorize({
      scope: 'org',
      action: 'webhook.manage',
      memberships: { orgRole: org.role },
      settings: { org: org.settings },
    });
  }

  private async owned(id: string, caller: Caller): Promise<Webhook> {
    const webhook = await this.m.Webhook.findById(id).lean<Webhook>();
    if (
      !webhook ||
      webhook.deleted ||
      !(await this.reader.org(webhook.orgId, caller.id, caller.authorization))
    )
      throw errors.notFound('webhook');
    await this.manage(webhook.orgId, caller);
    return webhook;
  }

  private async checkInput(input: {
    url?: string | undefined;
    events?: string[] | undefined;
  }): Promise<void> {
    const fieldErrors: { path: string; message: string }[] = [];
    if (input.url !== undefined) {
      const why = await refusal(input.url, this.policy);
      if (why) fieldErrors.push({ path: 'body.url', message: `The URL ${why}.` });
    }
    for (const pattern of unknownPatterns(input.events ?? []))
      fieldErrors.push({ path: 'body.events', message: `"${pattern}" matches no event type.` });
    if (fieldErrors.length > 0) throw errors.validation(fieldErrors, 422);
  }

  private changed(orgId: string, webhookId: string): void {
    this.active.delete(orgId);
    this.dispatcher?.forget(webhookId);
  }

  async create(
    orgId: string,
    caller: Caller,
    input: WebhookInput,
  ): Promise<WebhookView & { secret: string }> {
    await this.manage(orgId, caller);
    await this.checkInput(input);
    if ((await this.m.Webhook.countDocuments({ orgId, deleted: false })) >= MAX_WEBHOOKS_PER_ORG)
      throw errors.conflict(
        `An organization has at most ${MAX_WEBHOOKS_PER_ORG} webhooks; delete one first.`,
      );
    const now = new Date();
    const secret = newSecret();
    const webhook: Webhook = {
      _id: randomUUID(),
      orgId,
      url: input.url,
      events: [...new Set(input.events)],
      description: input.description ?? null,
      active: true,
      createdBy: caller.id,
      secrets: [{ value: secret, expiresAt: null }],
      disabledAt: null,
      disabledReason: null,
      deleted: false,
      createdAt: now,
      updatedAt: now,
      version: 1,
    };
    const event = createEvent(notifyEvents.webhookCreated, SOURCE, {
      subjectId: webhook._id,
      orgId,
      actorId: caller.id,
      data: this.eventData(webhook),
    });
    await this.outbox.write(this.m.Webhook, webhook._id, [event], async (mark) =>
      this.m.Webhook.create({ ...webhook, ...mark }),
    );
    this.changed(orgId, webhook._id);
    return { ...webhookView(webhook), secret };
  }

  private eventData(w: Webhook) {
    return {
      webhookId: w._id,
      orgId: w.orgId,
      url: targetOrigin(w.url),
      events: w.events,
      description: w.description,
      active: w.active,
    };
  }

  async list(orgId: string, caller: Caller): Promise<Page<WebhookView>> {
    await this.manage(orgId, caller);
    const rows = await this.m.Webhook.find({ orgId, deleted: false }).lean<Webhook[]>();
    rows.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    return { items: rows.map(webhookView), nextCursor: null };
  }

  async get(id: string, caller: Caller): Promise<WebhookView> {
    return webhookView(await this.owned(id, caller));
  }

  async update(
    id: string,
    caller: Caller,
    patch: WebhookPatch,
    ifMatch: string | undefined,
  ): Promise<WebhookView> {
    const webhook = await this.owned(id, caller);
    if (!ifMatchPasses(ifMatch, webhook)) throw errors.preconditionFailed();
    await this.checkInput(patch);
    const now = new Date();
    const reactivated = patch.active === true && !webhook.active;
    const next: Webhook = {
      ...webhook,
      url: patch.url ?? webhook.url,
      events: patch.events ? [...new Set(patch.events)] : webhook.events,
      description: patch.description === undefined ? webhook.description : patch.description,
      active: patch.active ?? webhook.active,
      disabledAt: reactivated ? null : webhook.disabledAt,
      disabledReason: reactivated ? null : webhook.disabledReason,
      updatedAt: now,
      version: webhook.version + 1,
    };
    const changed = Object.keys(patch).filter((key) => patch[key as keyof WebhookPatch] !== undefined);
    const event = createEvent(notifyEvents.webhookUpdated, SOURCE, {
      subjectId: id,
      orgId: webhook.orgId,
      actorId: caller.id,
      data: { ...this.eventData(next), changed },
    });
    const updated = await this.outbox.write(this.m.Webhook, id, [event], (mark) =>
      this.m.Webhook.findOneAndUpdate(
        { _id: id, deleted: false, version: webhook.version },
        {
          $set: {
            url: next.url,
            events: next.events,
            description: next.description,
            active: next.active,
            disabledAt: next.disabledAt,
            disabledReason: next.disabledReason,
            updatedAt: now,
            version: next.version,
            ...mark,
          },
        },
        { new: true },
      ).lean<Webhook>(),
    );
    if (!updated) throw errors.preconditionFailed();
    if (reactivated) await this.m.Health.deleteOne({ _id: id });
    this.changed(webhook.orgId, webhook._id);
    return webhookView(updated);
  }

  async remove(id: string, caller: Caller): Promise<void> {
    const webhook = await this.owned(id, caller);
    const now = new Date();
    const event = createEvent(notifyEvents.webhookDeleted, SOURCE, {
      subjectId: id,
      orgId: webhook.orgId,
      actorId: caller.id,
      data: { webhookId: id, orgId: webhook.orgId },
    });
    await this.outbox.write(this.m.Webhook, id, [event], (mark) =>
      this.m.Webhook.findOneAndUpdate(
        { _id: id, deleted: false },
        // The secrets go with it: a deleted webhook signs nothing again.
        {
          $set: { deleted: true, active: false, secrets: [], updatedAt: now, ...mark },
          $inc: { version: 1 },
        },
        { new: true },
      ).lean(),
    );
    this.changed(webhook.orgId, webhook._id);
  }

  /** A new secret, shown once; the previous one keeps signing for the overlap (24 h by default). */
  async rotateSecret(id: string, caller: Caller): Promise<{ secret: string; previousExpiresAt: string }> {
    const webhook = await this.owned(id, caller);
    const now = new Date();
    const previousExpiresAt = new Date(now.getTime() + this.secretOverlapMs);
    const secret = newSecret();
    const kept = webhook.secrets
      .filter((s) => s.expiresAt === null || s.expiresAt > now)
      .map((s) => ({
        value: s.value,
        expiresAt: s.expiresAt && s.expiresAt < previousExpiresAt ? s.expiresAt : previousExpiresAt,
      }));
    const event = createEvent(notifyEvents.webhookSecretRotated, SOURCE, {
      subjectId: id,
      orgId: webhook.orgId,
      actorId: caller.id,
      data: { webhookId: id, orgId: webhook.orgId, previousExpiresAt: previousExpiresAt.toISOString() },
    });
    const updated = await this.outbox.write(this.m.Webhook, id, [event], (mark) =>
      this.m.Webhook.findOneAndUpdate(
        { _id: id, deleted: false, version: webhook.version },
        {
          $set: { secrets: [{ value: secret, expiresAt: null }, ...kept], updatedAt: now, ...mark },
          $inc: { version: 1 },
        },
        { new: true },
      ).lean(),
    );
    if (!updated) throw errors.conflict('The webhook changed meanwhile; try again.');
    this.changed(webhook.orgId, id);
    return { secret, previousExpiresAt: previousExpiresAt.toISOString() };
  }

  /** A `webhook.ping` delivery, sent at once like any other (and logged). */
  async ping(id: string, caller: Caller): Promise<DeliveryView> {
    const webhook = await this.owned(id, caller);
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
    this.dispatcher?.kick([delivery]);
    return deliveryView(delivery);
  }

  async deliveries(
    id: string,
    caller: Caller,
    query: { state?: DeliveryState | undefined; limit: number; cursor?: string | undefined },
  ): Promise<Page<DeliveryView>> {
    await this.owned(id, caller);
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
    await this.owned(id, caller);
    const now = new Date();
    const delivery = await this.m.Delivery.findOneAndUpdate(
      { _id: deliveryId, webhookId: id },
      { $set: { state: 'PENDING', tries: 0, nextAttemptAt: now, wake: wakeBucket(now), updatedAt: now } },
      { new: true },
    ).lean<WebhookDelivery>();
    if (!delivery) throw errors.notFound('delivery');
    this.dispatcher?.kick([delivery]);
    return deliveryView(delivery);
  }

  /** The org's events after the cursor, oldest first, as the caller may see them. */
  async events(
    orgId: string,
    caller: Caller,
    query: { after?: string | undefined; types?: string[] | undefined; limit: number },
  ): Promise<Page<PublicEvent> & { position: string }> {
    await this.manage(orgId, caller);
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

  /** The org's live webhooks that take this event type (the fan-out's question, per event). */
  async subscribers(orgId: string, type: string): Promise<Webhook[]> {
    let hooks = this.active.get(orgId);
    if (!hooks) {
      hooks = await this.m.Webhook.find({ orgId, active: true, deleted: false }).lean<Webhook[]>();
      this.active.set(orgId, hooks);
    }
    return hooks.filter((hook) => matchesEvent(hook.events, type));
  }

  /** Turns a failing webhook off and tells the org's ADMINs (through `webhook.disabled`). */
  async disable(id: string, reason: string, failures: number): Promise<void> {
    const webhook = await this.m.Webhook.findById(id).lean<Webhook>();
    if (!webhook || webhook.deleted || !webhook.active) return;
    const now = new Date();
    const event = createEvent(notifyEvents.webhookDisabled, SOURCE, {
      subjectId: id,
      orgId: webhook.orgId,
      data: { webhookId: id, orgId: webhook.orgId, url: targetOrigin(webhook.url), reason, failures },
    });
    await this.outbox.write(this.m.Webhook, id, [event], (mark) =>
      this.m.Webhook.findOneAndUpdate(
        { _id: id, active: true, deleted: false },
        {
          $set: { active: false, disabledAt: now, disabledReason: reason, updatedAt: now, ...mark },
          $inc: { version: 1 },
        },
        { new: true },
      ).lean(),
    );
    this.changed(webhook.orgId, webhook._id);
  }
}
