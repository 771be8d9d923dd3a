import type { Document, Model } from 'mongoose';
import type { EventEnvelope, OutboxWriter } from '@trellis/shared';

/**
 * Inserts a new document together with its events (the outbox's stage → write → commit). A failed
 * save (a duplicate key, say) throws and its events are never published.
 */
export async function insertWithEvents<D extends Document<unknown>>(
  outbox: OutboxWriter,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any model using outboxPlugin
  model: Model<any>,
  doc: D,
  events: EventEnvelope[],
): Promise<D> {
  const saved = await outbox.write(model, doc._id, events, async (mark) => {
    doc.set(mark);
    await doc.save();
    return doc;
  });
  if (!saved) throw new Error('an insert always writes');
  return saved;
}

/** An `updateOne` result as `OutboxWriter.write` wants it: `null` when nothing matched. */
export function matched<R extends { matchedCount: number }>(result: R): R | null {
  return result.matchedCount > 0 ? result : null;
}
