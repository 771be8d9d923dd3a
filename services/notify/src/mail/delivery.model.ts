import { Schema, type Connection, type Model } from 'mongoose';

export type DeliveryStatus = 'sending' | 'sent' | 'failed';

/**
 * One requested mail, keyed by the event that asked for it. The rendered body and the params are
 * never stored: they carry one-time codes, and a record that outlives the code's ten minutes
 * must not be a way to read it. The event itself can be replayed to render again.
 */
export interface MailDelivery {
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
  { collection: 'mail_deliveries', versionKey: false },
);

// The idempotency guard: whoever inserts the event id first owns the delivery.
deliverySchema.index({ eventId: 1 }, { unique: true });

export type MailDeliveryModel = Model<MailDelivery>;

/** The model on this connection, with its unique index built before the first claim relies on it. */
export async function mailDeliveryModel(connection: Connection): Promise<MailDeliveryModel> {
  const model =
    connection.models.MailDelivery ?? connection.model<MailDelivery>('MailDelivery', deliverySchema);
  await model.init();
  return model as MailDeliveryModel;
}
