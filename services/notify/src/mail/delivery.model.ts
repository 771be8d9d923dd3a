import { Schema, type Connection, type Model } from 'mongoose';

/**
 * `sending` → `sent` | `failed`: a transactional mail, sent by the consumer that asked for it.
 * `queued` → `sent` | `failed`: a notification mail, sent behind it by the `MailQueue`.
 */
export type DeliveryStatus = 'queued' | 'sending' | 'sent' | 'failed';

/**
 * One requested mail, keyed by the event that asked for it. A transactional mail's params are
 * never stored: they carry one-time codes, and a record that outlives the code's ten minutes
 * must not be a way to read it (the event itself can be replayed to render again). A queued
 * notification mail keeps its params — a notification's title and body, the recipient's name and
 * the inbox link, nothing secret — until it is sent or given up.
 */
export interface MailDelivery {
  /** The event id: every read and write of a delivery goes by `_id`. */
  _id: string;
  eventId: string;
  template: string;
  to: string;
  status: DeliveryStatus;
  /** SMTP attempts so far, successful or not. */
  attempts: number;
  lastError: string | null;
  messageId: string | null;
  createdAt: Date;
  sentAt: Date | null;
  /** Queued only: the template's params. */
  params?: Record<string, string>;
  /** Queued only: until when one sender holds the mail; once past, any replica's sweep may take it. */
  leaseUntil?: Date;
}

const deliverySchema = new Schema<MailDelivery>(
  {
    _id: { type: String, required: true },
    eventId: { type: String, required: true },
    template: { type: String, required: true },
    to: { type: String, required: true },
    status: { type: String, required: true, enum: ['queued', 'sending', 'sent', 'failed'] },
    attempts: { type: Number, required: true, default: 0 },
    lastError: { type: String, default: null },
    messageId: { type: String, default: null },
    createdAt: { type: Date, required: true },
    sentAt: { type: Date, default: null },
    params: { type: Schema.Types.Mixed },
    leaseUntil: { type: Date },
  },
  // The idempotency guard is `_id` (the event id): whoever inserts it first owns the delivery.
  { collection: 'mail_deliveries', versionKey: false },
);
// The queue's sweep: queued mails whose lease has run out (few: most are sent within their lease).
deliverySchema.index({ status: 1, leaseUntil: 1 });

export type MailDeliveryModel = Model<MailDelivery>;

/** The model on this connection, its collection ready before the first claim. */
export async function mailDeliveryModel(connection: Connection): Promise<MailDeliveryModel> {
  const model =
    connection.models.MailDelivery ?? connection.model<MailDelivery>('MailDelivery', deliverySchema);
  await model.init();
  return model as MailDeliveryModel;
}

/**
 * Who takes a queued mail whose lease ran out: `<event id>@<the lease's end in ms>`, inserted by the
 * taker. A unique `_id` is the one atomic check FerretDB v1 offers (its conditional updates are a
 * read, then a write), so of two replicas sweeping at once only one sends.
 */
export interface MailClaim {
  _id: string;
  at: Date;
}

const claimSchema = new Schema<MailClaim>(
  { _id: { type: String, required: true }, at: { type: Date, required: true } },
  { collection: 'mail_claims', versionKey: false },
);

export type MailClaimModel = Model<MailClaim>;

export async function mailClaimModel(connection: Connection): Promise<MailClaimModel> {
  const model = connection.models.MailClaim ?? connection.model<MailClaim>('MailClaim', claimSchema);
  await model.init();
  return model as MailClaimModel;
}
