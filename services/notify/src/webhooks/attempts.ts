// Who sends an attempt (claims), and a webhook's run of failures (health): the dispatcher's records.
import { randomUUID } from 'node:crypto';
import type { Model } from 'mongoose';
import { CoalescedInserts, RecentMap, upsertRetried } from '@trellis/shared';
import type { AttemptClaim, WebhookHealth } from './webhook.model.ts';
import { shouldDisable } from './webhook.rules.ts';

/**
 * Attempt claims: `<delivery>:<attempt>:<takeover>` inserted before sending, so of two replicas only
 * one sends an attempt (a unique `_id` is the one atomic check FerretDB v1 offers). A claim whose
 * owner died is taken over once its lease ran out, under the next takeover number.
 */
export class AttemptClaims {
  private readonly model: Model<AttemptClaim>;
  private readonly inserts: CoalescedInserts<AttemptClaim>;
  private readonly leaseMs: number;
  private readonly owner = randomUUID();

  constructor(model: Model<AttemptClaim>, leaseMs: number) {
    this.model = model;
    this.inserts = new CoalescedInserts(model);
    this.leaseMs = leaseMs;
  }

  /** Takes attempt `number` of a delivery for this replica, or says someone else has it. */
  async take(deliveryId: string, number: number): Promise<boolean> {
    const until = new Date(Date.now() + this.leaseMs);
    const insert = (takeover: number) =>
      this.inserts.insert({
        _id: `${deliveryId}:${number}:${takeover}`,
        deliveryId,
        attempt: number,
        owner: this.owner,
        until,
      });
    if (await insert(0)) return true;
    const claims = await this.model.find({ deliveryId, attempt: number }).lean();
    // Someone holds it, or held it and is gone: then the next takeover number decides who goes on.
    if (claims.some((claim) => claim.until > new Date())) return false;
    return insert(claims.length);
  }
}

/**
 * A webhook's run of failed attempts, apart from the webhook so counting never overwrites an edit. A
 * success ends the run; a run long enough (`shouldDisable`) disables the webhook through `onDisable`.
 */
export class HealthRecord {
  private readonly model: Model<WebhookHealth>;
  private readonly limits: { maxFailures: number; maxFailingMs: number };
  private readonly onDisable: (webhookId: string, reason: string, failures: number) => Promise<void>;
  /** Webhooks whose run was reset a moment ago: a success then writes nothing. */
  private readonly healthy = new RecentMap<true>({ ttlMs: 5_000, maxEntries: 10_000 });

  constructor(
    model: Model<WebhookHealth>,
    limits: { maxFailures: number; maxFailingMs: number },
    onDisable: (webhookId: string, reason: string, failures: number) => Promise<void>,
  ) {
    this.model = model;
    this.limits = { maxFailures: limits.maxFailures, maxFailingMs: limits.maxFailingMs };
    this.onDisable = onDisable;
  }

  async record(webhookId: string, ok: boolean, now: Date): Promise<void> {
    if (ok) {
      // The next failure starts a new run (and its `failingSince`).
      if (this.healthy.get(webhookId)) return;
      await this.model.deleteOne({ _id: webhookId });
      this.healthy.set(webhookId, true);
      return;
    }
    this.healthy.delete(webhookId);
    // Two first failures at once race to insert the run's document: the loser counts on it.
    const health = await upsertRetried(() =>
      this.model
        .findOneAndUpdate(
          { _id: webhookId },
          { $inc: { failures: 1 }, $setOnInsert: { failingSince: now } },
          { upsert: true, new: true },
        )
        .lean(),
    );
    const reason = health ? shouldDisable(health, this.limits, now) : null;
    if (reason && health) await this.onDisable(webhookId, reason, health.failures);
  }
}
