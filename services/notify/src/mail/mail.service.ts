import { CoalescedInserts, type EventEnvelope, type Logger } from '@trellis/shared';
import type { MailDelivery, MailDeliveryModel } from './delivery.model.ts';
import { withoutLocalParts, type MailLane, type Mailer } from './mailer.ts';
import { renderMail } from './mail.templates.ts';

/**
 * A mail to send: identity's `mail.requested` data, or another event mapped onto this shape.
 * A type alias, not an interface, so it stays assignable to an envelope's record data.
 */
export type MailRequest = {
  template: string;
  to: string;
  params: Record<string, string>;
};

export interface MailServiceDeps {
  deliveries: MailDeliveryModel;
  mailer: Mailer;
  logger: Logger;
}

/** Only the domain reaches the logs: the address is personal data, the params hold codes. */
const domainOf = (address: string) => address.slice(address.lastIndexOf('@') + 1).toLowerCase();

export class MailService {
  private readonly deliveries: MailDeliveryModel;
  /** Claims of concurrent events, inserted together. */
  private readonly claims: CoalescedInserts<MailDelivery>;
  private readonly mailer: Mailer;
  private readonly logger: Logger;

  constructor(deps: MailServiceDeps) {
    this.deliveries = deps.deliveries;
    this.claims = new CoalescedInserts(deps.deliveries);
    this.mailer = deps.mailer;
    this.logger = deps.logger.child({ component: 'mail' });
  }

  /**
   * Sends the mail an event asks for, once per event id. The delivery record is claimed by
   * inserting it (unique event id); a redelivered event finds it: 'sent' → nothing to do,
   * 'sending' (a crash mid-send) or 'failed' (an SMTP error) → send again. An SMTP failure is
   * recorded and rethrown, so the consumer retries with backoff and finally parks the event on
   * the DLQ. A crash between the SMTP answer and marking 'sent' can send twice: at-least-once.
   */
  async deliver(event: EventEnvelope<MailRequest>, lane: MailLane = 'transactional'): Promise<void> {
    const { template, to, params } = event.data;
    const log = this.logger.child({ eventId: event.id, template, domain: domainOf(to) });
    // Rendering first: a request no template can serve fails without leaving a record behind.
    const mail = renderMail(template, params);

    const delivery = await this.claim(event);
    if (delivery.status === 'sent') {
      log.info('mail already sent; skipping the redelivered event');
      return;
    }

    let messageId: string;
    try {
      ({ messageId } = await this.mailer.send({ to, ...mail }, lane));
    } catch (err) {
      const message = withoutLocalParts(err instanceof Error ? err.message : String(err));
      await this.deliveries.updateOne(
        { _id: event.id },
        { $set: { status: 'failed', lastError: message.slice(0, 500) }, $inc: { attempts: 1 } },
      );
      log.warn({ error: message, attempt: delivery.attempts + 1 }, 'mail delivery failed');
      // Not chained as `cause`: the original error's message and fields may name the recipient.
      throw new Error(`SMTP delivery of ${template} mail for event ${event.id} failed: ${message}`);
    }
    await this.deliveries.updateOne(
      { _id: event.id },
      { $set: { status: 'sent', messageId, sentAt: new Date(), lastError: null }, $inc: { attempts: 1 } },
    );
    log.info({ messageId }, 'mail sent');
  }

  /** Inserts the delivery, or returns the one an earlier delivery of this event left. */
  private async claim(event: EventEnvelope<MailRequest>): Promise<MailDelivery> {
    const fresh: MailDelivery = {
      _id: event.id,
      eventId: event.id,
      template: event.data.template,
      to: event.data.to,
      status: 'sending',
      attempts: 0,
      lastError: null,
      messageId: null,
      createdAt: new Date(),
      sentAt: null,
    };
    if (await this.claims.insert(fresh)) return fresh;
    // A delivery recorded before `_id` was the event id has its own id (and a unique index on
    // `eventId`, on databases that had it): found by that field, in this rare path only.
    const existing =
      (await this.deliveries.findById(event.id).lean<MailDelivery>()) ??
      (await this.deliveries.findOne({ eventId: event.id }).lean<MailDelivery>());
    if (!existing) throw new Error(`Delivery for event ${event.id} vanished after a duplicate-key error`);
    return existing;
  }
}
