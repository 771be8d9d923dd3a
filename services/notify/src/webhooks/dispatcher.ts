import { randomUUID } from 'node:crypto';
import { isDuplicateKeyError, type Logger } from '@trellis/shared';
import { send, type SendResult } from './sender.ts';
import type { TargetPolicy } from './target-guard.ts';
import type { EventVisibility } from './visibility.ts';
import type { DeliveryAttempt, WebhookDelivery, WebhookModels } from './webhook.model.ts';
import {
  eventScope,
  nextAttemptAt,
  shouldDisable,
  signedHeaders,
  type PublicEvent,
} from './webhook.rules.ts';

export interface DispatcherSettings {
  /** Delays between tries (api.md §10: about a day in all). */
  schedule: number[];
  /** A 2xx within this long is success. */
  timeoutMs: number;
  policy: TargetPolicy;
  /** Attempts in flight per webhook, and in all, on this replica. */
  perWebhook: number;
  global: number;
  /** Failed attempts in a row, or time failing, that disable a webhook. */
  maxFailures: number;
  maxFailingMs: number;
  /** How often due retries are looked for. */
  pollMs: number;
  /** How long a delivery waits for its project to be projected before it is decided without it. */
  visibilityWaitMs: number;
}

/** The minute bucket a pending delivery is found under when it falls due. */
export function wakeBucket(at: Date): string {
  return `w${Math.floor(at.getTime() / 60_000)}`;
}

/**
 * Sends deliveries and keeps their schedule (api.md §10). Every replica runs one; a delivery's
 * attempt is sent by whoever inserts its claim first (`AttemptClaim`), so two replicas never send
 * one attempt twice, and a claim left by a replica that died is taken over once it expires. A
 * subject's deliveries to one webhook go out in feed order: one waits while an earlier one of its
 * chain is pending, and each settled delivery starts the next. New deliveries are sent at once
 * (`kick`); retries are found by their wake-up minute, and every minute by a full sweep.
 */
export class WebhookDispatcher {
  private readonly m: WebhookModels;
  private readonly settings: DispatcherSettings;
  private readonly visibility: EventVisibility;
  private readonly logger: Logger;
  private readonly onDisable: (webhookId: string, reason: string, failures: number) => Promise<void>;
  private readonly owner = randomUUID();
  private readonly inFlight = new Set<string>();
  private readonly perWebhook = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private lastSweep = 0;
  private polling: Promise<void> | undefined;
  private stopped = false;

  constructor(deps: {
    models: WebhookModels;
    settings: DispatcherSettings;
    visibility: EventVisibility;
    logger: Logger;
    onDisable: (webhookId: string, reason: string, failures: number) => Promise<void>;
  }) {
    this.m = deps.models;
    this.settings = deps.settings;
    this.visibility = deps.visibility;
    this.logger = deps.logger;
    this.onDisable = deps.onDisable;
  }

  start(): void {
    this.stopped = false;
    const tick = () => {
      this.polling = this.poll()
        .catch((err: unknown) => this.logger.warn({ err }, 'webhook poll failed'))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.settings.pollMs);
        });
    };
    tick();
  }

  /** Stops looking for work and waits for the attempts in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
    while (this.inFlight.size > 0) await new Promise((resolve) => setTimeout(resolve, 20));
  }

  /** Tries these deliveries now (they were just created or redelivered). */
  kick(deliveries: WebhookDelivery[]): void {
    for (const delivery of deliveries) this.launch(delivery);
  }

  private async poll(): Promise<void> {
    const now = new Date();
    const sweep = now.getTime() - this.lastSweep >= 60_000;
    const filter = sweep
      ? { state: 'PENDING' }
      : { wake: { $in: [wakeBucket(new Date(now.getTime() - 60_000)), wakeBucket(now)] } };
    if (sweep) this.lastSweep = now.getTime();
    const due = (await this.m.Delivery.find(filter).lean<WebhookDelivery[]>())
      .filter((d) => d.state === 'PENDING' && d.nextAttemptAt !== null && d.nextAttemptAt <= now)
      .sort((a, b) => a.seq - b.seq);
    for (const delivery of due) this.launch(delivery);
  }

  private launch(delivery: WebhookDelivery): void {
    if (this.stopped || this.inFlight.has(delivery._id)) return;
    const running = this.perWebhook.get(delivery.webhookId) ?? 0;
    // Over a limit: the delivery stays due, and a later poll takes it.
    if (running >= this.settings.perWebhook || this.inFlight.size >= this.settings.global) return;
    this.inFlight.add(delivery._id);
    this.perWebhook.set(delivery.webhookId, running + 1);
    void this.attempt(delivery)
      .catch((err: unknown) => this.logger.warn({ err, deliveryId: delivery._id }, 'webhook attempt failed'))
      .then((settled) => {
        this.inFlight.delete(delivery._id);
        const left = (this.perWebhook.get(delivery.webhookId) ?? 1) - 1;
        if (left > 0) this.perWebhook.set(delivery.webhookId, left);
        else this.perWebhook.delete(delivery.webhookId);
        if (settled) return this.next(delivery.chain);
      })
      .catch((err: unknown) => this.logger.warn({ err, chain: delivery.chain }, 'webhook chain failed'));
  }

  /** The chain's first pending delivery, once the one before it settled. */
  private async next(chain: string): Promise<void> {
    const pending = await this.m.Delivery.find({ chain, state: 'PENDING' }).lean<WebhookDelivery[]>();
    const first = pending.sort((a, b) => a.seq - b.seq)[0];
    if (first?.nextAttemptAt && first.nextAttemptAt <= new Date()) this.launch(first);
  }

  /** One attempt if this replica gets it; true when the delivery settled (sent or given up). */
  private async attempt(stale: WebhookDelivery): Promise<boolean> {
    const [delivery, chain] = await Promise.all([
      this.m.Delivery.findById(stale._id).lean<WebhookDelivery>(),
      this.m.Delivery.find({ chain: stale.chain, state: 'PENDING' }).select({ seq: 1 }).lean(),
    ]);
    const now = new Date();
    if (!delivery || delivery.state !== 'PENDING' || !delivery.nextAttemptAt || delivery.nextAttemptAt > now)
      return false;
    if (chain.some((other) => other.seq < delivery.seq)) return false;
    const webhook = await this.m.Webhook.findById(delivery.webhookId).lean();
    if (!webhook || webhook.deleted || !webhook.active) {
      await this.settle(
        delivery,
        'FAILED',
        null,
        webhook?.deleted === false ? 'webhook inactive' : 'webhook deleted',
      );
      return true;
    }
    const event = JSON.parse(delivery.payload) as PublicEvent;
    if (event.type !== 'webhook.ping') {
      const visible = await this.visibility.visible(webhook.createdBy, {
        orgId: event.orgId,
        ...eventScope(event),
      });
      if (visible === null && now.getTime() - delivery.createdAt.getTime() < this.settings.visibilityWaitMs) {
        await this.reschedule(delivery, new Date(now.getTime() + 1_000));
        return false;
      }
      if (!visible) {
        await this.settle(delivery, 'FAILED', null, 'not visible to the webhook creator');
        return true;
      }
    }
    const number = delivery.attempts.length + 1;
    if (!(await this.claim(delivery._id, number))) return false;
    const result = await send(
      webhook.url,
      signedHeaders(webhook.secrets, delivery._id, delivery.payload, new Date()),
      delivery.payload,
      {
        timeoutMs: this.settings.timeoutMs,
        policy: this.settings.policy,
      },
    );
    return this.record(delivery, result);
  }

  /** Takes attempt `number` of a delivery for this replica, or says someone else has it. */
  private async claim(deliveryId: string, number: number): Promise<boolean> {
    const until = new Date(Date.now() + this.settings.timeoutMs + 30_000);
    const insert = async (takeover: number) => {
      try {
        await this.m.Claim.create({
          _id: `${deliveryId}:${number}:${takeover}`,
          deliveryId,
          attempt: number,
          owner: this.owner,
          until,
        });
        return true;
      } catch (err) {
        if (isDuplicateKeyError(err)) return false;
        throw err;
      }
    };
    if (await insert(0)) return true;
    const claims = await this.m.Claim.find({ deliveryId, attempt: number }).lean();
    // Someone holds it, or held it and is gone: then the next takeover number decides who goes on.
    if (claims.some((claim) => claim.until > new Date())) return false;
    return insert(claims.length);
  }

  private async record(delivery: WebhookDelivery, result: SendResult): Promise<boolean> {
    const now = new Date();
    const ok = result.status !== null && result.status >= 200 && result.status < 300;
    const error = ok ? null : (result.error ?? `status ${String(result.status)}`);
    const attempt: DeliveryAttempt = {
      at: now,
      status: result.status,
      durationMs: result.durationMs,
      error: result.error,
    };
    const tries = delivery.tries + 1;
    const retryAt = ok ? null : nextAttemptAt(this.settings.schedule, tries, now);
    const state = ok ? 'SUCCEEDED' : retryAt ? 'PENDING' : 'FAILED';
    await this.m.Delivery.updateOne(
      { _id: delivery._id },
      {
        $push: { attempts: attempt },
        $set: {
          state,
          tries,
          nextAttemptAt: retryAt,
          wake: retryAt ? wakeBucket(retryAt) : null,
          updatedAt: now,
        },
      },
    );
    await this.health(delivery.webhookId, ok, now);
    if (!ok)
      this.logger.info(
        { deliveryId: delivery._id, webhookId: delivery.webhookId, error },
        'webhook attempt failed',
      );
    return state !== 'PENDING';
  }

  private async health(webhookId: string, ok: boolean, now: Date): Promise<void> {
    if (ok) {
      // A success ends the run: the next failure starts a new one (and its `failingSince`).
      await this.m.Health.deleteOne({ _id: webhookId });
      return;
    }
    const health = await this.m.Health.findOneAndUpdate(
      { _id: webhookId },
      { $inc: { failures: 1 }, $setOnInsert: { failingSince: now } },
      { upsert: true, new: true },
    ).lean();
    const reason = health
      ? shouldDisable(
          health,
          { maxFailures: this.settings.maxFailures, maxFailingMs: this.settings.maxFailingMs },
          now,
        )
      : null;
    if (reason && health) await this.onDisable(webhookId, reason, health.failures);
  }

  private async reschedule(delivery: WebhookDelivery, at: Date): Promise<void> {
    await this.m.Delivery.updateOne(
      { _id: delivery._id },
      { $set: { nextAttemptAt: at, wake: wakeBucket(at), updatedAt: new Date() } },
    );
  }

  /** Ends a delivery without an attempt (its webhook is gone or off, or its reader lost access). */
  private async settle(
    delivery: WebhookDelivery,
    state: 'FAILED',
    status: null,
    reason: string,
  ): Promise<void> {
    const now = new Date();
    await this.m.Delivery.updateOne(
      { _id: delivery._id },
      {
        $push: { attempts: { at: now, status, durationMs: 0, error: reason } },
        $set: { state, nextAttemptAt: null, wake: null, updatedAt: now },
      },
    );
  }
}
