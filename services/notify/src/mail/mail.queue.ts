import {
  CoalescedInserts,
  CoalescedUpdates,
  isDuplicateKeyError,
  type EventEnvelope,
  type Logger,
} from '@trellis/shared';
import type { MailClaimModel, MailDelivery, MailDeliveryModel } from './delivery.model.ts';
import type { MailRequest } from './mail.service.ts';
import { withoutLocalParts, type Mailer } from './mailer.ts';
import { renderMail } from './mail.templates.ts';

export interface MailQueueSettings {
  /** SMTP sends in flight at once (default 16). */
  concurrency: number;
  /** How long a sender holds a mail it took (default 2 min); a crashed sender's mails wait that long. */
  leaseMs: number;
  /** How often every replica looks for mails nobody holds (default 5 s). */
  sweepMs: number;
  /** Sends tried before a mail is given up as `failed` (default 8: about a day with the backoff). */
  maxAttempts: number;
  /** The wait after the first failed send; doubled after each (default 30 s, capped at 6 h). */
  backoffMs: number;
}

export const DEFAULT_MAIL_QUEUE: MailQueueSettings = {
  concurrency: 16,
  leaseMs: 120_000,
  sweepMs: 5_000,
  maxAttempts: 8,
  backoffMs: 30_000,
};

/** A send starts only with this much of its lease left: the SMTP timeouts (≤ 20 s) fit inside it. */
const LEASE_MARGIN_MS = 30_000;
/** Mails waiting in this process at most; beyond, they wait in the store for a sweep. */
const MAX_WAITING = 2_000;
/** Mails a sweep takes at most. */
const SWEEP_BATCH = 200;
/** Claims are kept this long: far longer than any sweep that could still try the same lease. */
const CLAIM_KEEP_MS = 3_600_000;
const MAX_BACKOFF_MS = 6 * 3_600_000;
/** How long the outcomes of sends are gathered into one write. */
const MARK_WINDOW_MS = 50;

/**
 * Notification mails, sent behind the consumer that asked for them: the consumer's handler records
 * the mail (`queued`, one coalesced insert) and moves on, so the inbox and the WebSocket never wait
 * for an SMTP server — a relay answering in 200 ms would otherwise hold notify's activity group to a
 * few events a second. Nothing acknowledged is lost: the record is written before the event's offset
 * is committed; the process that wrote it holds it under a lease and sends it; a failed send waits
 * out a backoff, and a mail whose lease ran out (its sender crashed, or it failed) is taken by any
 * replica's sweep under a claim (`MailClaim`), so two replicas never send the same attempt. A crash
 * between the SMTP answer and the `sent` mark sends twice: at-least-once, as for every mail.
 */
export class MailQueue {
  private readonly deliveries: MailDeliveryModel;
  private readonly claims: MailClaimModel;
  private readonly mailer: Mailer;
  private readonly logger: Logger;
  private readonly settings: MailQueueSettings;
  private readonly inserts: CoalescedInserts<MailDelivery>;
  private readonly marks: CoalescedUpdates<MailDelivery>;
  /** Mails this process holds and has not sent yet, in the order taken. */
  private readonly waiting: MailDelivery[] = [];
  /** Ids of the mails this process holds (waiting or in flight). */
  private readonly held = new Set<string>();
  private inFlight = 0;
  private readonly sends = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private sweeping = false;
  private prunedAt = 0;
  private stopped = false;
  private readonly onGivenUp: (() => void) | undefined;

  constructor(deps: {
    deliveries: MailDeliveryModel;
    claims: MailClaimModel;
    mailer: Mailer;
    logger: Logger;
    settings?: Partial<MailQueueSettings>;
    /** Told of each mail given up after its last attempt (a metric). */
    onGivenUp?: () => void;
  }) {
    this.onGivenUp = deps.onGivenUp;
    this.deliveries = deps.deliveries;
    this.claims = deps.claims;
    this.mailer = deps.mailer;
    this.logger = deps.logger.child({ component: 'mail-queue' });
    this.settings = { ...DEFAULT_MAIL_QUEUE, ...deps.settings };
    this.inserts = new CoalescedInserts(deps.deliveries);
    // Sends finish one by one: their marks are gathered over a short window, not one turn.
    this.marks = new CoalescedUpdates(deps.deliveries, { windowMs: MARK_WINDOW_MS });
  }

  /**
   * Records the mail an event asks for, once per event id, and sends it soon. Rendering first: a
   * request no template can serve fails here (the consumer parks the event) and records nothing.
   */
  async enqueue(event: EventEnvelope<MailRequest>): Promise<void> {
    const { template, to, params } = event.data;
    renderMail(template, params);
    const now = Date.now();
    // Held by this process when it has room; otherwise free at once for a sweep (here or elsewhere).
    const hold = !this.stopped && this.waiting.length < MAX_WAITING;
    const fresh: MailDelivery = {
      _id: event.id,
      eventId: event.id,
      template,
      to,
      status: 'queued',
      attempts: 0,
      lastError: null,
      messageId: null,
      createdAt: new Date(now),
      sentAt: null,
      params,
      leaseUntil: new Date(hold ? now + this.settings.leaseMs : now),
    };
    if (await this.inserts.insert(fresh)) return hold ? this.take(fresh) : undefined;
    // A redelivered event: its mail is sent, given up, or held by a sender (or free for a sweep).
    // A record the in-line sender left (`sending` after a crash) is queued anew, by one replica.
    const existing = await this.deliveries.findById(event.id, { status: 1 }).lean();
    if (existing?.status !== 'sending' || !(await this.claim(`${event.id}@sending`))) return;
    await this.deliveries.updateOne(
      { _id: event.id },
      { $set: { status: 'queued', params, leaseUntil: fresh.leaseUntil } },
    );
    if (hold) this.take(fresh);
  }

  /** Starts the sweep for mails nobody holds. */
  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => void this.sweep(), this.settings.sweepMs);
    this.timer.unref();
  }

  /** Stops taking mails, waits for the sends in flight and lets go of the waiting ones (another replica or the next start sends them). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.allSettled([...this.sends]);
    const released = this.waiting.splice(0).map((mail) => mail._id);
    for (const id of released) this.held.delete(id);
    if (released.length > 0)
      await this.deliveries.updateMany(
        { _id: { $in: released }, status: 'queued' },
        { $set: { leaseUntil: new Date(0) } },
      );
  }

  /** Takes what nobody holds: queued mails whose lease ran out, claimed one by one. */
  async sweep(): Promise<number> {
    if (this.sweeping || this.stopped) return 0;
    this.sweeping = true;
    try {
      const room = MAX_WAITING - this.waiting.length;
      if (room <= 0) return 0;
      const now = new Date();
      const free = await this.deliveries
        .find({ status: 'queued', leaseUntil: { $lte: now } })
        .limit(Math.min(room, SWEEP_BATCH))
        .lean<MailDelivery[]>();
      let taken = 0;
      for (const mail of free) {
        if (this.held.has(mail._id)) continue;
        // The lease that ran out is taken over once: another replica may be sweeping too.
        if (!(await this.claim(`${mail._id}@${mail.leaseUntil?.getTime() ?? 0}`))) continue;
        const leaseUntil = new Date(Date.now() + this.settings.leaseMs);
        await this.deliveries.updateOne({ _id: mail._id }, { $set: { leaseUntil } });
        this.take({ ...mail, leaseUntil });
        taken += 1;
      }
      // Old claims go now and then, not on every sweep (there are few; most mails never need one).
      if (Date.now() - this.prunedAt > CLAIM_KEEP_MS) {
        this.prunedAt = Date.now();
        await this.claims.deleteMany({ at: { $lt: new Date(this.prunedAt - CLAIM_KEEP_MS) } });
      }
      return taken;
    } catch (err) {
      this.logger.warn({ err }, 'mail queue sweep failed; the next one tries again');
      return 0;
    } finally {
      this.sweeping = false;
    }
  }

  /** True when this replica inserted the claim; false when another did first. */
  private async claim(_id: string): Promise<boolean> {
    try {
      await this.claims.create({ _id, at: new Date() });
      return true;
    } catch (err) {
      if (isDuplicateKeyError(err)) return false;
      throw err;
    }
  }

  /** Mails held by this process, waiting or in flight (tests, shutdown). */
  get pending(): number {
    return this.held.size;
  }

  private take(mail: MailDelivery): void {
    if (this.stopped || this.waiting.length >= MAX_WAITING) return; // its lease runs out; a sweep takes it
    this.held.add(mail._id);
    this.waiting.push(mail);
    this.pump();
  }

  private pump(): void {
    while (!this.stopped && this.inFlight < this.settings.concurrency && this.waiting.length > 0) {
      const mail = this.waiting.shift()!;
      this.inFlight += 1;
      const tracked: Promise<void> = this.send(mail)
        // The slot frees when SMTP has answered; the outcome's write goes on with others'.
        .finally(() => {
          this.inFlight -= 1;
          this.pump();
        })
        .then(({ recorded }) => recorded)
        .catch((err: unknown) =>
          // Left queued: once its lease passes, a sweep sends it again (at-least-once).
          this.logger.error({ err, eventId: mail._id }, 'the outcome of a mail send was not recorded'),
        )
        .finally(() => {
          this.held.delete(mail._id);
          this.sends.delete(tracked);
        });
      this.sends.add(tracked);
    }
  }

  /** One SMTP attempt; `recorded` settles when its outcome is written. */
  private async send(mail: MailDelivery): Promise<{ recorded: Promise<void> }> {
    // Waited too long here: the lease may be about to pass to another replica. Leave it to a sweep.
    if ((mail.leaseUntil?.getTime() ?? 0) - Date.now() < LEASE_MARGIN_MS)
      return { recorded: Promise.resolve() };
    const counted = { $inc: { attempts: 1 } };
    const done = { ...counted, $unset: { params: 1, leaseUntil: 1 } };
    let messageId: string;
    try {
      const rendered = renderMail(mail.template, mail.params ?? {});
      ({ messageId } = await this.mailer.send({ to: mail.to, ...rendered }, 'notifications'));
    } catch (err) {
      return { recorded: this.failed(mail, err) };
    }
    const sent = { status: 'sent', messageId, sentAt: new Date(), lastError: null };
    return { recorded: this.marks.updateOne({ _id: mail._id }, { $set: sent, ...done }) };
  }

  /** A failed attempt: retried after a backoff, or, after the last, given up. */
  private async failed(mail: MailDelivery, err: unknown): Promise<void> {
    const attempts = mail.attempts + 1;
    const lastError = withoutLocalParts(err instanceof Error ? err.message : String(err)).slice(0, 500);
    const log = this.logger.child({ eventId: mail._id, template: mail.template });
    if (attempts >= this.settings.maxAttempts) {
      const update = {
        $set: { status: 'failed', lastError },
        $inc: { attempts: 1 },
        $unset: { params: 1, leaseUntil: 1 },
      };
      await this.marks.updateOne({ _id: mail._id }, update);
      this.onGivenUp?.();
      log.error({ error: lastError, attempts }, 'mail given up after its last attempt');
      return;
    }
    const waitMs = Math.min(this.settings.backoffMs * 2 ** (attempts - 1), MAX_BACKOFF_MS);
    const leaseUntil = new Date(Date.now() + waitMs);
    await this.marks.updateOne({ _id: mail._id }, { $set: { lastError, leaseUntil }, $inc: { attempts: 1 } });
    log.warn({ error: lastError, attempts, retryInMs: waitMs }, 'mail delivery failed; retried later');
  }
}
