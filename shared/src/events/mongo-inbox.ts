import { Schema, type Connection, type Model } from 'mongoose';
import { isDuplicateKeyError } from '../db/mongo.ts';
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

  constructor(connection: Connection) {
    this.model = connection.models.Inbox ?? connection.model<InboxRecord>('Inbox', inboxSchema);
  }

  async handleOnce(consumer: string, event: EventEnvelope, effect: () => Promise<unknown>): Promise<boolean> {
    const _id = `${consumer}:${event.id}`;
    if (await this.model.exists({ _id })) return false;
    await effect();
    try {
      await this.model.create({ _id, handledAt: new Date() });
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
    }
    return true;
  }
}
