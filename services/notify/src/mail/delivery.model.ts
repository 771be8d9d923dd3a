import { Schema, type Connection, type Model } from 'mongoose';

export type DeliveryStatus = 'sending' | 'sent' | 'failed';

/**
 * One requested mail, keyed by the event that asked for it. The rendered body and the params are
 * never stored: they carry one-time codes, and a record that outlives the code's ten minutes
 * must not be a way to read it. The event itself can be replayed to render again.
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
}

const deliverySchema = new Schema<MailDelivery>(
  {
    _id: { type: String, required: true },
    eventId: { type: String, required: true },
    template: { type: String, required: true },
    to: { type: String, required: true },
    status: { type: String, required: true, enum: ['sending', 'sent', 'failed'] },
    attempts: { type: Number, required: true, default: 0 },
    lastError: { type: String, default: null },
    messageId: { type: String, default: null },
    createdAt: { type: Date, required: true },
    sentAt: { type: Date, default: null },
  },
  // The idempotency guard is `_id` (the event id): whoever inserts it first owns the delivery.
  { collection: 'mail_deliveries', versionKey: false },
);

export type MailDeliveryModel = Model<MailDelivery>;

/** The model on this connection, its collection ready before the first claim. */
export async function mailDeliveryModel(connection: Connection): Promise<MailDeliveryModel> {
  const model =
    connection.models.MailDelivery ?? connection.model<MailDelivery>('MailDelivery', deliverySchema);
  await model.init();
  return model as MailDeliveryModel;
}
