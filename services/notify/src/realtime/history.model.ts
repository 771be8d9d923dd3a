import { Schema, type Connection, type Model } from 'mongoose';
import { refusedDocuments } from '@trellis/shared';
import type { RealtimeEvent } from './channels.ts';

/**
 * One event as it went out on one channel, under the channel's `seq` (1, 2, 3 … without gaps).
 * `_id` is `<channel>#<seq>`: FerretDB v1 answers `_id` lookups from its index but scans the
 * collection for any other filter, so every hot-path read and write here goes by `_id`.
 */
export interface HistoryEntry {
  _id: string;
  channel: string;
  seq: number;
  eventId: string;
  event: RealtimeEvent;
  /** When the seq was assigned; retention counts from here. */
  at: Date;
}

const historySchema = new Schema<HistoryEntry>(
  {
    _id: { type: String, required: true },
    channel: { type: String, required: true },
    seq: { type: Number, required: true },
    eventId: { type: String, required: true },
    event: { type: Schema.Types.Mixed, required: true },
    at: { type: Date, required: true },
  },
  { collection: 'realtime_history', versionKey: false, minimize: false },
);

// (channel, eventId): an event takes one seq per channel, however often it is appended. Enforced
// on insert (cheap); only the rare redelivery after a crash needs to look it up.
historySchema.index({ channel: 1, eventId: 1 }, { unique: true });

/** Per channel: the newest seq written (may lag after a crash; readers probe past it) and the oldest kept. */
export interface ChannelHead {
  _id: string;
  seq: number;
  first: number;
}

const headSchema = new Schema<ChannelHead>(
  {
    _id: { type: String, required: true },
    seq: { type: Number, required: true },
    first: { type: Number, required: true, default: 1 },
  },
  { collection: 'realtime_channels', versionKey: false },
);

export interface HistoryModels {
  entries: Model<HistoryEntry>;
  heads: Model<ChannelHead>;
}

/** The models on this connection, with the unique index built before the first append relies on it. */
export async function historyModels(connection: Connection): Promise<HistoryModels> {
  const entries = (connection.models.RealtimeHistory ??
    connection.model<HistoryEntry>('RealtimeHistory', historySchema)) as Model<HistoryEntry>;
  const heads = (connection.models.RealtimeChannel ??
    connection.model<ChannelHead>('RealtimeChannel', headSchema)) as Model<ChannelHead>;
  await Promise.all([entries.init(), heads.init()]);
  return { entries, heads };
}

export const entryId = (channel: string, seq: number) => `${channel}#${seq}`;

/** The history document of `event` at `seq` on the channel. */
export const entryOf = (
  channel: string,
  seq: number,
  { event, at }: { event: RealtimeEvent; at: Date },
): HistoryEntry => ({ _id: entryId(channel, seq), channel, seq, eventId: event.id, event, at });

/** How many documents of an ordered insert went in before a duplicate key stopped it; rethrows anything else. */
export function insertedBeforeDuplicate(err: unknown): number {
  const first = refusedDocuments(err)?.[0];
  if (!first?.duplicate) throw err;
  return first.index;
}
