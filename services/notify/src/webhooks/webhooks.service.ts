import { randomUUID } from 'node:crypto';
import {
  createEvent,
  errors,
  ifMatchPasses,
  notifyEvents,
  RecentMap,
  type OutboxWriter,
  type Page,
} from '@trellis/shared';
import type { WebhookDispatcher } from './dispatcher.ts';
import { refusal, type TargetPolicy } from './target-guard.ts';
import type { Caller, WebhookAccess } from './webhook.access.ts';
import type { Webhook, WebhookModels } from './webhook.model.ts';
import { matchesEvent, newSecret, unknownPatterns } from './webhook.rules.ts';
import { targetOrigin, webhookView, type WebhookView } from './webhooks.views.ts';

const SOURCE = 'notify';
/** Webhooks an org may have: each costs every event of the org a match, and a busy one its slots. */
export const MAX_WEBHOOKS_PER_ORG = 25;

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

/**
 * The webhook use cases (api.md §10): subscriptions under the org policy `webhook.manage`, their
 * delivery log and redelivery, and the org's event feed. Another org's webhook, or an org the
 * caller is not in, is a 404.
 */
export class WebhookService {
  private readonly m: WebhookModels;
  private readonly access: WebhookAccess;
  private readonly outbox: OutboxWriter;
  private readonly policy: TargetPolicy;
  private readonly secretOverlapMs: number;
  private dispatcher: WebhookDispatcher | undefined;
  /** Each org's live webhooks, kept 1 s for the fan-out (forgotten here at once on a change). */
  private readonly active = new RecentMap<Webhook[]>({ ttlMs: 1_000, maxEntries: 10_000 });

  constructor(deps: {
    models: WebhookModels;
    access: WebhookAccess;
    outbox: OutboxWriter;
    policy: TargetPolicy;
    secretOverlapMs: number;
  }) {
    this.m = deps.models;
    this.access = deps.access;
    this.outbox = deps.outbox;
    this.policy = deps.policy;
    this.secretOverlapMs = deps.secretOverlapMs;
  }

  /** The dispatcher new deliveries are handed to (it calls back here to disable webhooks). */
  attach(dispatcher: WebhookDispatcher): void {
    this.dispatcher = dispatcher;
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
    await this.access.manage(orgId, caller);
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
    await this.access.manage(orgId, caller);
    const rows = await this.m.Webhook.find({ orgId, deleted: false }).lean<Webhook[]>();
    rows.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    return { items: rows.map(webhookView), nextCursor: null };
  }

  async get(id: string, caller: Caller): Promise<WebhookView> {
    return webhookView(await this.access.owned(id, caller));
  }

  async update(
    id: string,
    caller: Caller,
    patch: WebhookPatch,
    ifMatch: string | undefined,
  ): Promise<WebhookView> {
    const webhook = await this.access.owned(id, caller);
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
    const webhook = await this.access.owned(id, caller);
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
    const webhook = await this.access.owned(id, caller);
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
