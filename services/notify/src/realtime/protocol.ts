import { z } from 'zod';
import { realtimeEvents, unstorableText } from '@trellis/shared';
import type { RealtimeEvent } from './channels.ts';

// The WebSocket wire format of api.md §9, in one place.

/** A channel name (`kind:id`): bounded, and held to the same text rules as every HTTP input. */
const channel = z
  .string()
  .max(200)
  .refine((name) => unstorableText(name) === undefined, { message: 'Not storable text' });

export const clientMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('subscribe'),
    channel,
    since: z.number().int().min(0).optional(),
  }),
  z.object({ type: z.literal('unsubscribe'), channel }),
  z.object({ type: z.literal('ping') }),
]);

export type ClientMessage = z.infer<typeof clientMessageSchema>;

export type ErrorCode = 'FORBIDDEN' | 'NOT_FOUND' | 'BAD_REQUEST';

/** What the server sends (published in the AsyncAPI document; `ServerMessage` is checked against it). */
export const serverMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('welcome'), userId: z.uuid() }),
  z.object({ type: z.literal('subscribed'), channel: z.string(), seq: z.number().int().min(0) }),
  z.object({
    type: z.literal('error'),
    channel: z.string().optional(),
    code: z.enum(['FORBIDDEN', 'NOT_FOUND', 'BAD_REQUEST']),
    message: z.string(),
  }),
  z.object({ type: z.literal('pong') }),
  z.object({
    type: z.literal('event'),
    channel: z.string(),
    seq: z.number().int().min(1),
    event: realtimeEvents.realtimeEvent,
  }),
  z.object({ type: z.literal('unsubscribed'), channel: z.string(), reason: z.literal('ACCESS_REVOKED') }),
  z.object({ type: z.literal('reset'), channel: z.string() }),
]);

export type ServerMessage =
  | { type: 'welcome'; userId: string }
  | { type: 'subscribed'; channel: string; seq: number }
  | { type: 'error'; channel?: string; code: ErrorCode; message: string }
  | { type: 'pong' }
  | { type: 'event'; channel: string; seq: number; event: RealtimeEvent }
  | { type: 'unsubscribed'; channel: string; reason: 'ACCESS_REVOKED' }
  | { type: 'reset'; channel: string };

// The documented schema and the type the hub sends stay one: each must be assignable to the other.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
export const serverMessagesDocumented: Same<ServerMessage, z.infer<typeof serverMessageSchema>> = true;

/** Why the server closes a socket; a client reconnects (with a fresh token for 4001) and resumes with `since`. */
export const CLOSE = {
  /** The replica is shutting down (a drain, a rolling restart): reconnect now, to another one. */
  serviceRestart: 1012,
  /** Delivery failed on our side (e.g. the history could not be read). */
  internalError: 1011,
  /** The access token the socket was opened with has expired. */
  tokenExpired: 4001,
  /** The access token the socket was opened with has been revoked (logout, password reset…). */
  tokenRevoked: 4002,
} as const;

/** A client message larger than this closes the socket (1009, by `ws`). Ours are tiny. */
export const MAX_MESSAGE_BYTES = 16 * 1024;
/** Frames the socket has not yet written beyond this mean the client cannot keep up: it is dropped. */
export const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
export const DEFAULT_MAX_SUBSCRIPTIONS = 200;
