import { Schema, type Connection, type Model } from 'mongoose';
import { outboxPlugin } from '@trellis/shared';

/** A signing secret (`whsec_…`); a rotated-out one signs alongside the new one until `expiresAt`. */
export interface SigningSecret {
  value: string;
  expiresAt: Date | null;
}

/** An org's subscription to its events (api.md §10). */
export interface Webhook {
  _id: string;
  orgId: string;
  url: string;
  /** Event types or wildcards: `task.created`, `task.*`, `*`. */
  events: string[];
  description: string | null;
  active: boolean;
  /** Whose view of the org the deliveries follow (private projects, channels). */
  createdBy: string;
  /** Newest first. */
  secrets: SigningSecret[];
  disabledAt: Date | null;
  disabledReason: string | null;
  deleted: boolean;
  createdAt: Date;
  updatedAt: Date;
  version: number;
}

/**
 * A webhook's run of failures, apart from the webhook so the dispatcher's counting never overwrites
 * an edit (FerretDB v1 writes whole documents).
 */
export interface WebhookHealth {
  _id: string;
  failures: number;
  failingSince: Date | null;
}

export type DeliveryState = 'PENDING' | 'SUCCEEDED' | 'FAILED';

export interface DeliveryAttempt {
  at: Date;
  /** The receiver's status, null when there was no answer (refused, timed out). */
  status: number | null;
  durationMs: number;
  error: string | null;
}

/** One event for one webhook: its body, its state and every attempt. `_id` is the `webhook-id`. */
export interface WebhookDelivery {
  _id: string;
  webhookId: string;
  orgId: string;
  eventId: string;
  type: string;
  /** `<webhookId>:<subject kind>:<subject id>`: deliveries of one chain go out in `seq` order. */
  chain: string;
  seq: number;
  /** The signed body, as sent. */
  payload: string;
  state: DeliveryState;
  attempts: DeliveryAttempt[];
  /** Attempts of the current schedule (a redelivery starts a new one). */
  tries: number;
  nextAttemptAt: Date | null;
  /** The minute bucket of `nextAttemptAt` while pending (`wakeBucket`): how the dispatcher finds it. */
  wake: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * Who sends one attempt: `<deliveryId>:<attempt>:<takeover>`. Inserted before sending, so of two
 * replicas only one owns an attempt (a unique `_id` is the one atomic check FerretDB v1 offers). A
 * claim whose owner died is taken over after `until` under the next `takeover` number.
 */
export interface AttemptClaim {
  _id: string;
  deliveryId: string;
  attempt: number;
  owner: string;
  until: Date;
}

/** One org event as the feed and the webhooks show it, in the org's order (`seq`). */
export interface FeedEntry {
  /** The event id. */
  _id: string;
  orgId: string;
  seq: number;
  /** `<orgId>:<seq / FEED_BLOCK>`: a page reads whole blocks by equality. */
  block: string;
  type: string;
  /** The public envelope, as JSON (event data may hold keys FerretDB refuses). */
  body: string;
  projectId: string | null;
  channelId: string | null;
  recordedAt: Date;
}

/** The last `seq` given in an org's feed (a hint: writers probe past it). */
export interface FeedHead {
  _id: string;
  seq: number;
}

const webhookSchema = new Schema<Webhook>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true, index: true },
    url: { type: String, required: true },
    events: { type: [String], required: true },
    description: { type: String, default: null },
    active: { type: Boolean, required: true },
    createdBy: { type: String, required: true },
    secrets: {
      type: [
        { _id: false, value: { type: String, required: true }, expiresAt: { type: Date, default: null } },
      ],
      required: true,
    },
    disabledAt: { type: Date, default: null },
    disabledReason: { type: String, default: null },
    deleted: { type: Boolean, required: true, default: false },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
    version: { type: Number, required: true },
  },
  { collection: 'webhooks', versionKey: false },
);
webhookSchema.plugin(outboxPlugin);

const healthSchema = new Schema<WebhookHealth>(
  {
    _id: { type: String, required: true },
    failures: { type: Number, required: true },
    failingSince: { type: Date, default: null },
  },
  { collection: 'webhook_health', versionKey: false },
);

const deliverySchema = new Schema<WebhookDelivery>(
  {
    _id: { type: String, required: true },
    webhookId: { type: String, required: true },
    orgId: { type: String, required: true },
    eventId: { type: String, required: true },
    type: { type: String, required: true },
    chain: { type: String, required: true, index: true },
    seq: { type: Number, required: true },
    payload: { type: String, required: true },
    state: { type: String, required: true, enum: ['PENDING', 'SUCCEEDED', 'FAILED'] },
    attempts: {
      type: [
        {
          _id: false,
          at: { type: Date, required: true },
          status: { type: Number, default: null },
          durationMs: { type: Number, required: true },
          error: { type: String, default: null },
        },
      ],
      default: [],
    },
    tries: { type: Number, required: true, default: 0 },
    nextAttemptAt: { type: Date, default: null },
    wake: { type: String, default: null, index: true },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { collection: 'webhook_deliveries', versionKey: false },
);
// The log pages a webhook's deliveries newest first; the full sweep reads the pending ones.
deliverySchema.index({ webhookId: 1, createdAt: -1 });
deliverySchema.index({ state: 1 });

const claimSchema = new Schema<AttemptClaim>(
  {
    _id: { type: String, required: true },
    deliveryId: { type: String, required: true, index: true },
    attempt: { type: Number, required: true },
    owner: { type: String, required: true },
    until: { type: Date, required: true },
  },
  { collection: 'webhook_attempt_claims', versionKey: false },
);

const feedSchema = new Schema<FeedEntry>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    seq: { type: Number, required: true },
    block: { type: String, required: true, index: true },
    type: { type: String, required: true },
    body: { type: String, required: true },
    projectId: { type: String, default: null },
    channelId: { type: String, default: null },
    recordedAt: { type: Date, required: true, index: true },
  },
  { collection: 'event_feed', versionKey: false },
);
// Two writers of one org's feed can never give one seq twice.
feedSchema.index({ orgId: 1, seq: 1 }, { unique: true });

const headSchema = new Schema<FeedHead>(
  { _id: { type: String, required: true }, seq: { type: Number, required: true } },
  { collection: 'event_feed_heads', versionKey: false },
);

export interface WebhookModels {
  Webhook: Model<Webhook>;
  Health: Model<WebhookHealth>;
  Delivery: Model<WebhookDelivery>;
  Claim: Model<AttemptClaim>;
  Feed: Model<FeedEntry>;
  FeedHead: Model<FeedHead>;
}

function model<T>(connection: Connection, name: string, schema: Schema<T>): Model<T> {
  return (connection.models[name] as Model<T> | undefined) ?? connection.model<T>(name, schema);
}

/** The models on this connection, their indexes (the unique ones guard ordering) built. */
export async function webhookModels(connection: Connection): Promise<WebhookModels> {
  const models: WebhookModels = {
    Webhook: model(connection, 'Webhook', webhookSchema),
    Health: model(connection, 'WebhookHealth', healthSchema),
    Delivery: model(connection, 'WebhookDelivery', deliverySchema),
    Claim: model(connection, 'WebhookAttemptClaim', claimSchema),
    Feed: model(connection, 'FeedEntry', feedSchema),
    FeedHead: model(connection, 'FeedHead', headSchema),
  };
  await Promise.all(Object.values(models).map((m: Model<unknown>) => m.init()));
  return models;
}
