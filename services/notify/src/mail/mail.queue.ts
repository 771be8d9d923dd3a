import { CoalescedInserts, CoalescedUpdates, type EventEnvelope, type Logger } from '@trellis/shared';
import type { MailDelivery, MailDeliveryModel } from './delivery.model.ts';
import type { MailRequest } from './mail.service.ts';
import type { Mailer } from './mailer.ts';
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
const MAX_BACKOFF_MS = 6 * 3_600_000;

/** SMTP errors may quote the recipient ("550 <ada@example.test>: unknown user"); keep its domain only. */
export const withoutLocalParts = (message: string) => message.replace(/[^\s<>"'@]+@/g, '…@');

/**
 * Notification mails, sent behind the consumer that asked for them: the consumer's handler records
 * the mail (`queued`, one coalesced insert) and moves on, so the inbox and the WebSocket never wait
 * for an SMTP server — a relay answering in 200 ms would otherwise hold notify's activity group to a
 * few events a second. Nothing acknowledged is lost: the record is written before the event's offset
 * is committed; the process that wrote it holds it under a lease and sends it; a failed send waits
 * out a backoff, and a mail whose lease ran out (its sender crashed, or it failed) is taken by any
 * replica's sweep with a conditional update, so two replicas never send the same attempt. A crash
 * between the SMTP answer and the `sent` mark sends twice: at-least-once, as for every mail.
 */
export class MailQueue {
  private readonly deliveries: MailDeliveryModel;
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
  private stopped = false;

  constructor(deps: {
    deliveries: MailDeliveryModel;
    mailer: Mailer;
    logger: Logger;
    settings?: Partial<MailQueueSettings>;
  }) {
    this.deliveries = deps.deliveries;
    this.mailer = deps.mailer;
    this.logger = deps.logger.child({ component: 'mail-queue' });
    this.settings = { ...DEFAULT_MAIL_QUEUE, ...deps.settings };
    this.inserts = new CoalescedInserts(deps.deliveries);
    this.marks = new CoalescedUpdates(deps.deliveries);
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
    // A record the in-line sender left (`sending` after a crash) is queued anew.
    const filter = { _id: event.id, status: 'sending' };
    const set = { status: 'queued', params, leaseUntil: fresh.leaseUntil };
    if ((await this.deliveries.updateOne(filter, { $set: set })).modifiedCount === 1 && hold)
      this.take(fresh);
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
        const leaseUntil = new Date(Date.now() + this.settings.leaseMs);
        const claimed = await this.deliveries.updateOne(
          { _id: mail._id, status: 'queued', leaseUntil: mail.leaseUntil },
          { $set: { leaseUntil } },
        );
        if (claimed.modifiedCount !== 1) continue; // another replica took it
        this.take({ ...mail, leaseUntil });
        taken += 1;
      }
      return taken;
    } catch (err) {
      this.logger.warn({ err }, 'mail queue sweep failed; the next one tries again');
      return 0;
    } finally {
      this.sweeping = false;
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
    while (this.inFlight < this.settings.concurrency && this.waiting.length > 0) {
      const mail = this.waiting.shift()!;
      this.inFlight += 1;
      const send = this.send(mail)
        .catch((err: unknown) => this.logger.error({ err, eventId: mail._id }, 'mail queue send failed'))
        .finally(() => {
          this.inFlight -= 1;
          this.held.delete(mail._id);
          this.sends.delete(send);
          this.pump();
        });
      this.sends.add(send);
    }
  }

  private async send(mail: MailDelivery): Promise<void> {
    // Waited too long here: the lease may be about to pass to another replica. Leave it to a sweep.
    if ((mail.leaseUntil?.getTime() ?? 0) - Date.now() < LEASE_MARGIN_MS) return;
    const log = this.logger.child({ eventId: mail._id, template: mail.template });
    const attempts = mail.attempts + 1;
    const counted = { $inc: { attempts: 1 } };
    const done = { ...counted, $unset: { params: 1, leaseUntil: 1 } };
    try {
      const rendered = renderMail(mail.template, mail.params ?? {});
      const { messageId } = await this.mailer.send({ to: mail.to, ...rendered }, 'notifications');
      await this.marks.updateOne(
        { _id: mail._id },
        { $set: { status: 'sent', messageId, sentAt: new Date(), lastError: null }, ...done },
      );
    } catch (err) {
      const lastError = withoutLocalParts(err instanceof Error ? err.message : String(err)).slice(0, 500);
      if (attempts >= this.settings.maxAttempts) {
        await this.marks.updateOne({ _id: mail._id }, { $set: { status: 'failed', lastError }, ...done });
        log.error({ error: lastError, attempts }, 'mail given up after its last attempt');
        return;
      }
      const waitMs = Math.min(this.settings.backoffMs * 2 ** (attempts - 1), MAX_BACKOFF_MS);
      const leaseUntil = new Date(Date.now() + waitMs);
      await this.marks.updateOne({ _id: mail._id }, { $set: { lastError, leaseUntil }, ...counted });
      log.warn({ error: lastError, attempts, retryInMs: waitMs }, 'mail delivery failed; retried later');
    }
  }
}
