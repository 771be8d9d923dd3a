import { Schema, type Connection, type Model } from 'mongoose';
import type { RealtimeEvent } from './channels.ts';

/** One event as it went out on one channel, under the channel's `seq` (1, 2, 3 … without gaps). */
export interface HistoryEntry {
  channel: string;
  seq: number;
  eventId: string;
  event: RealtimeEvent;
  /** When the seq was assigned; retention counts from here. */
  at: Date;
}

const historySchema = new Schema<HistoryEntry>(
  {
    channel: { type: String, required: true },
    seq: { type: Number, required: true },
    eventId: { type: String, required: true },
    event: { type: Schema.Types.Mixed, required: true },
    at: { type: Date, required: true },
  },
  { collection: 'realtime_history', versionKey: false, minimize: false },
);

// (channel, seq): one event per seq, so two replicas racing for the next seq cannot both win.
historySchema.index({ channel: 1, seq: 1 }, { unique: true });
// (channel, eventId): a redelivered event finds the seq it already has instead of taking another.
historySchema.index({ channel: 1, eventId: 1 }, { unique: true });
// The retention job's scan for old entries (no TTL index on FerretDB v1: architecture.md §5).
historySchema.index({ at: 1 });

export type HistoryModel = Model<HistoryEntry>;

/** The model on this connection, with its unique indexes built before the first append relies on them. */
export async function historyModel(connection: Connection): Promise<HistoryModel> {
  const model =
    connection.models.RealtimeHistory ?? connection.model<HistoryEntry>('RealtimeHistory', historySchema);
  await model.init();
  return model as HistoryModel;
}
