import type { Document, Model } from 'mongoose';
import { stageEvents, type EventEnvelope, type MongoOutbox } from '@trellis/shared';

/**
 * Publishes a document's staged events right after the write that staged them. The write has
 * already made them durable, so a failure here (Kafka down) is not the request's failure: the
 * relay logs it and its periodic sweep publishes them later.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any model using outboxPlugin
export type Publish = (model: Model<any>, id: string) => void;

export function publisherOf(outbox: MongoOutbox): Publish {
  return (model, id) => {
    outbox.flush(model, id).catch(() => undefined);
  };
}

/** `stageEvents` for collab's documents, whose `_id` is a UUID string (shared types it for ObjectIds). */
export function stage(doc: Document<unknown>, events: EventEnvelope[]): void {
  stageEvents(doc as Document, events);
}
