import { Schema, type Connection, type Model } from 'mongoose';
import { CoalescedInserts } from '../db/mongo.ts';
import type { EventEnvelope } from './envelope.ts';

interface InboxRecord {
  _id: string;
  handledAt: Date;
}

const inboxSchema = new Schema<InboxRecord>(
  { _id: { type: String, required: true }, handledAt: { type: Date, required: true } },
  { collection: 'inbox', versionKey: false },
);

/**
 * Inbox for MongoDB services. Without multi-document transactions the record cannot be written
 * atomically with the effect, so the rule is: the effect itself must be idempotent (an insert
 * guarded by a unique index on the event id, or an upsert); the record then only saves the work
 * of repeating it. Unique `_id` = `<consumer>:<eventId>`.
 */
export class MongoInbox {
  private readonly model: Model<InboxRecord>;
  /** Records of concurrent events, inserted together. */
  private readonly records: CoalescedInserts<InboxRecord>;

  constructor(connection: Connection) {
    this.model = connection.models.Inbox ?? connection.model<InboxRecord>('Inbox', inboxSchema);
    this.records = new CoalescedInserts(this.model);
  }

  async handleOnce(consumer: string, event: EventEnvelope, effect: () => Promise<unknown>): Promise<boolean> {
    const _id = `${consumer}:${event.id}`;
    if (await this.model.exists({ _id })) return false;
    await effect();
    await this.records.insert({ _id, handledAt: new Date() }); // false: a concurrent delivery recorded it
    return true;
  }
}
