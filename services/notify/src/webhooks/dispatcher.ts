import { CoalescedUpdates, RecentMap, type Logger } from '@trellis/shared';
import { AttemptClaims, HealthRecord } from './attempts.ts';
import { send, type SendResult } from './sender.ts';
import type { TargetPolicy } from './target-guard.ts';
import type { EventVisibility } from './visibility.ts';
import type { AttemptObserver } from './webhook.metrics.ts';
import type { DeliveryAttempt, Webhook, WebhookDelivery, WebhookModels } from './webhook.model.ts';
import { eventScope, nextAttemptAt, PING_TYPE, signedHeaders, type PublicEvent } from './webhook.rules.ts';

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

/** How an attempt ended for the chain: settled, to be tried again at `at`, or not this replica's. */
type Outcome =
  { kind: 'settled' } | { kind: 'later'; at: Date; delivery?: WebhookDelivery } | { kind: 'elsewhere' };

/** A subject's deliveries to one webhook that this replica sends, in order; the head goes first. */
interface HeldChain {
  queue: WebhookDelivery[];
  /** Whether the database was asked once for older pending deliveries of the chain. */
  checked: boolean;
  timer: NodeJS.Timeout | undefined;
}

/** A delivery copy younger than this is current enough for its first attempt (see `attempt`). */
const FRESH_MS = 10_000;

/** Deliveries kept waiting in memory per webhook for a free slot. */
const MAX_WAITING = 1_000;

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
  private readonly inFlight = new Set<string>();
  private readonly perWebhook = new Map<string, number>();
  private readonly chains = new Map<string, HeldChain>();
  /** Deliveries over a webhook's limit, started as its attempts finish (the poll finds the rest). */
  private readonly waiting = new Map<string, WebhookDelivery[]>();
  /** Webhooks as read a moment ago (an edit on this replica forgets its entry at once). */
  private readonly webhooks = new RecentMap<Webhook | null>({ ttlMs: 1_000, maxEntries: 10_000 });
  /** Claims and results of concurrent attempts, written together (one statement per turn). */
  private readonly claims: AttemptClaims;
  private readonly health: HealthRecord;
  private readonly results: CoalescedUpdates<WebhookDelivery>;
  private timer: NodeJS.Timeout | undefined;
  private lastSweep = 0;
  private polling: Promise<void> | undefined;
  private stopped = false;
  private readonly onAttempt: AttemptObserver | undefined;

  constructor(deps: {
    models: WebhookModels;
    settings: DispatcherSettings;
    visibility: EventVisibility;
    logger: Logger;
    onDisable: (webhookId: string, reason: string, failures: number) => Promise<void>;
    /** Told of each recorded attempt (metrics). */
    onAttempt?: AttemptObserver;
  }) {
    this.onAttempt = deps.onAttempt;
    this.m = deps.models;
    this.claims = new AttemptClaims(deps.models.Claim, deps.settings.timeoutMs + 30_000);
    this.health = new HealthRecord(deps.models.Health, deps.settings, deps.onDisable);
    this.results = new CoalescedUpdates(deps.models.Delivery);
    this.settings = deps.settings;
    this.visibility = deps.visibility;
    this.logger = deps.logger;
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
    for (const chain of this.chains.values()) clearTimeout(chain.timer);
    this.chains.clear();
    this.waiting.clear();
    await this.polling;
    while (this.inFlight.size > 0) await new Promise((resolve) => setTimeout(resolve, 20));
  }

  /**
   * Deliveries this replica just created or redelivered: each joins its chain here and goes out
   * when the ones before it have settled.
   */
  kick(deliveries: WebhookDelivery[]): void {
    for (const delivery of deliveries) {
      let chain = this.chains.get(delivery.chain);
      if (!chain) {
        // New here: older pending deliveries of the chain (a restart, another replica) go first.
        chain = { queue: [], checked: false, timer: undefined };
        this.chains.set(delivery.chain, chain);
      }
      if (chain.queue.some((d) => d._id === delivery._id)) continue;
      chain.queue.push(delivery);
      chain.queue.sort((x, y) => x.seq - y.seq);
      if (chain.queue[0] === delivery) this.launch(delivery);
    }
  }

  /** A webhook changed on this replica: read it again before the next attempt. */
  forget(webhookId: string): void {
    this.webhooks.delete(webhookId);
  }

  private async webhook(id: string): Promise<Webhook | null> {
    const known = this.webhooks.get(id);
    if (known !== undefined) return known;
    const webhook = await this.m.Webhook.findById(id).lean<Webhook>();
    this.webhooks.set(id, webhook);
    return webhook;
  }

  /** Due deliveries this replica does not hold (a retry, a restart, another replica's leftovers). */
  private async poll(): Promise<void> {
    const now = new Date();
    const sweep = now.getTime() - this.lastSweep >= 60_000;
    const filter = sweep
      ? { state: 'PENDING' }
      : { wake: { $in: [wakeBucket(new Date(now.getTime() - 60_000)), wakeBucket(now)] } };
    if (sweep) this.lastSweep = now.getTime();
    const due = (await this.m.Delivery.find(filter).lean<WebhookDelivery[]>())
      .filter(
        (d) =>
          d.state === 'PENDING' &&
          d.nextAttemptAt !== null &&
          d.nextAttemptAt <= now &&
          !this.chains.has(d.chain),
      )
      .sort((x, y) => x.seq - y.seq);
    const firstOfChain = new Map<string, WebhookDelivery>();
    for (const delivery of due)
      if (!firstOfChain.has(delivery.chain)) firstOfChain.set(delivery.chain, delivery);
    for (const delivery of firstOfChain.values()) this.launch(delivery);
  }

  private launch(delivery: WebhookDelivery): void {
    if (this.stopped || this.inFlight.has(delivery._id)) return;
    const running = this.perWebhook.get(delivery.webhookId) ?? 0;
    if (running >= this.settings.perWebhook || this.inFlight.size >= this.settings.global) {
      // Over a limit: it waits here for a free slot (a bounded queue per webhook). Past the bound,
      // its chain is let go, so that the poll finds it again at its wake-up minute.
      const queue = this.waiting.get(delivery.webhookId) ?? [];
      if (queue.some((d) => d._id === delivery._id)) return;
      if (queue.length < MAX_WAITING) {
        queue.push(delivery);
        this.waiting.set(delivery.webhookId, queue);
      } else this.letGo(delivery.chain);
      return;
    }
    this.inFlight.add(delivery._id);
    this.perWebhook.set(delivery.webhookId, running + 1);
    void this.attempt(delivery)
      .catch((err: unknown): Outcome => {
        this.logger.warn({ err, deliveryId: delivery._id }, 'webhook attempt failed');
        return { kind: 'later', at: new Date(Date.now() + 1_000) };
      })
      .then((outcome) => {
        this.inFlight.delete(delivery._id);
        const left = (this.perWebhook.get(delivery.webhookId) ?? 1) - 1;
        if (left > 0) this.perWebhook.set(delivery.webhookId, left);
        else this.perWebhook.delete(delivery.webhookId);
        this.after(delivery, outcome);
        this.launchWaiting();
      });
  }

  /** Slots came free: waiting deliveries go, each webhook's in turn, as far as the limits allow. */
  private launchWaiting(): void {
    for (const [webhookId, queue] of this.waiting) {
      while (queue.length > 0 && this.inFlight.size < this.settings.global) {
        if ((this.perWebhook.get(webhookId) ?? 0) >= this.settings.perWebhook) break;
        this.launch(queue.shift()!);
      }
      if (queue.length === 0) this.waiting.delete(webhookId);
      if (this.inFlight.size >= this.settings.global) return;
    }
  }

  /** This replica stops holding a chain: the poll picks it up from the database. */
  private letGo(chain: string): void {
    clearTimeout(this.chains.get(chain)?.timer);
    this.chains.delete(chain);
  }

  /** What an attempt's outcome means for its chain on this replica. */
  private after(delivery: WebhookDelivery, outcome: Outcome): void {
    const chain = this.chains.get(delivery.chain);
    if (!chain || chain.queue[0]?._id !== delivery._id) {
      // Found by the poll: the next of its chain is the poll's to find (its wake-up minute).
      if (outcome.kind === 'settled') void this.next(delivery.chain).catch(() => undefined);
      return;
    }
    chain.checked = chain.checked || outcome.kind !== 'elsewhere';
    switch (outcome.kind) {
      case 'settled': {
        chain.queue.shift();
        const head = chain.queue[0];
        if (head) this.launch(head);
        else this.chains.delete(delivery.chain);
        return;
      }
      case 'later': {
        if (this.stopped) return;
        const head = outcome.delivery ?? delivery;
        chain.queue[0] = head;
        clearTimeout(chain.timer);
        chain.timer = setTimeout(() => this.launch(head), Math.max(0, outcome.at.getTime() - Date.now()));
        chain.timer.unref();
        return;
      }
      case 'elsewhere':
        // Another replica, or older deliveries, hold the chain: the poll takes it from here.
        this.letGo(delivery.chain);
    }
  }

  /** The chain's first pending delivery, once the one before it settled (poll-found chains). */
  private async next(chain: string): Promise<void> {
    const pending = await this.m.Delivery.find({ chain, state: 'PENDING' }).lean<WebhookDelivery[]>();
    const first = pending.sort((x, y) => x.seq - y.seq)[0];
    if (first?.nextAttemptAt && first.nextAttemptAt <= new Date() && !this.chains.has(chain))
      this.launch(first);
  }

  /**
   * One attempt if this replica gets it. `delivery` was read or written a moment ago; should another
   * replica have moved it on since, its attempt number is taken and the claim says so.
   */
  private async attempt(delivery: WebhookDelivery): Promise<Outcome> {
    const now = new Date();
    if (delivery.state !== 'PENDING' || !delivery.nextAttemptAt) return { kind: 'elsewhere' };
    if (delivery.nextAttemptAt > now) return { kind: 'later', at: delivery.nextAttemptAt };
    const held = this.chains.get(delivery.chain);
    const mustCheck = !held || held.queue[0]?._id !== delivery._id || !held.checked;
    // A copy that may be old (a retry: another replica may have moved on since, and a claim left
    // longer than its lease can be taken over) goes by the stored delivery, read before its claim.
    // A first attempt of a delivery written a moment ago needs no read: anyone else's claim on it
    // is still within its lease, so the claim decides.
    const fresh = delivery.attempts.length === 0 && now.getTime() - delivery.updatedAt.getTime() < FRESH_MS;
    const [earlier, webhook, stored] = await Promise.all([
      mustCheck
        ? this.m.Delivery.find({ chain: delivery.chain, state: 'PENDING' }).select({ seq: 1 }).lean()
        : Promise.resolve([]),
      this.webhook(delivery.webhookId),
      fresh ? delivery : this.m.Delivery.findById(delivery._id).lean<WebhookDelivery>(),
    ]);
    if (earlier.some((other) => other.seq < delivery.seq)) return { kind: 'elsewhere' };
    if (!stored || stored.state !== 'PENDING' || stored.attempts.length !== delivery.attempts.length)
      return { kind: 'elsewhere' };
    if (!webhook || webhook.deleted || !webhook.active) {
      await this.settle(delivery, webhook?.deleted === false ? 'webhook inactive' : 'webhook deleted');
      return { kind: 'settled' };
    }
    const event = JSON.parse(delivery.payload) as PublicEvent;
    if (event.type !== PING_TYPE) {
      const visible = await this.visibility.visible(webhook.createdBy, {
        orgId: event.orgId,
        ...eventScope(event),
      });
      if (visible === null && now.getTime() - delivery.createdAt.getTime() < this.settings.visibilityWaitMs) {
        const at = new Date(now.getTime() + 1_000);
        await this.reschedule(delivery, at);
        return { kind: 'later', at, delivery: { ...delivery, nextAttemptAt: at } };
      }
      if (!visible) {
        await this.settle(delivery, 'not visible to the webhook creator');
        return { kind: 'settled' };
      }
    }
    const number = delivery.attempts.length + 1;
    if (!(await this.claims.take(delivery._id, number))) return { kind: 'elsewhere' };
    const result = await send(
      webhook.url,
      signedHeaders(webhook.secrets, delivery._id, delivery.payload, new Date()),
      delivery.payload,
      { timeoutMs: this.settings.timeoutMs, policy: this.settings.policy },
    );
    return this.record(delivery, result);
  }

  private async record(delivery: WebhookDelivery, result: SendResult): Promise<Outcome> {
    const now = new Date();
    const ok = result.status !== null && result.status >= 200 && result.status < 300;
    const error = ok ? null : (result.error ?? `status ${String(result.status)}`);
    const attempt: DeliveryAttempt = { at: now, status: result.status, durationMs: result.durationMs, error };
    const tries = delivery.tries + 1;
    const retryAt = ok ? null : nextAttemptAt(this.settings.schedule, tries, now);
    const state = ok ? 'SUCCEEDED' : retryAt ? 'PENDING' : 'FAILED';
    await this.results.updateOne(
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
    await this.health.record(delivery.webhookId, ok, now);
    this.onAttempt?.(
      ok ? 'succeeded' : state === 'PENDING' ? 'retrying' : 'failed',
      result.durationMs / 1_000,
    );
    if (!ok)
      this.logger.info(
        { deliveryId: delivery._id, webhookId: delivery.webhookId, error },
        'webhook attempt failed',
      );
    if (state !== 'PENDING' || !retryAt) return { kind: 'settled' };
    return {
      kind: 'later',
      at: retryAt,
      delivery: { ...delivery, attempts: [...delivery.attempts, attempt], tries, nextAttemptAt: retryAt },
    };
  }

  private async reschedule(delivery: WebhookDelivery, at: Date): Promise<void> {
    await this.m.Delivery.updateOne(
      { _id: delivery._id },
      { $set: { nextAttemptAt: at, wake: wakeBucket(at), updatedAt: new Date() } },
    );
  }

  /** Ends a delivery without an attempt (its webhook is gone or off, or its reader lost access). */
  private async settle(delivery: WebhookDelivery, reason: string): Promise<void> {
    const now = new Date();
    await this.m.Delivery.updateOne(
      { _id: delivery._id },
      {
        $push: { attempts: { at: now, status: null, durationMs: 0, error: reason } },
        $set: { state: 'FAILED', nextAttemptAt: null, wake: null, updatedAt: now },
      },
    );
    this.onAttempt?.('dropped', null);
  }
}
