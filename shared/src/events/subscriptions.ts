import type { Sequelize, Transaction } from 'sequelize';
import type { EventEnvelope } from './envelope.ts';
import type { ConsumerOptions, EventHandler } from './kafka.ts';
import { routeByType } from './kafka.ts';
import type { MongoInbox } from './mongo-inbox.ts';
import { handleOnce } from './pg-inbox.ts';
import type { EventDefinition } from './registry.ts';
import { ACTIVITY_TOPICS } from './topics.ts';

/** One event type a service reacts to: where it arrives and what to do. */
export interface Subscription {
  type: string;
  topic: string;
  handle: EventHandler;
}

/**
 * The subscription, for the events whose data `relevant` accepts; the others are skipped before
 * any I/O (inbox included), e.g. a `task.updated` that changes nothing the subscriber keeps.
 */
export function onlyWhen(
  subscription: Subscription,
  relevant: (data: Record<string, unknown>) => boolean,
): Subscription {
  return {
    ...subscription,
    handle: async (consumed) => (relevant(consumed.event.data) ? subscription.handle(consumed) : 'skip'),
  };
}

/**
 * Builds subscriptions whose effect runs once per event through the PostgreSQL inbox, in one
 * transaction with the inbox record: a redelivered event changes nothing. The consumer has
 * already validated `data` against the definition's schema, so the effect receives it typed.
 */
export function inboxSubscriber(sequelize: Sequelize, inbox: string) {
  return <D extends Record<string, unknown>>(
    definition: EventDefinition<D>,
    effect: (transaction: Transaction, data: D, event: EventEnvelope<D>) => Promise<unknown>,
  ): Subscription => ({
    type: definition.type,
    topic: definition.topic,
    handle: async ({ event }) => {
      await handleOnce(sequelize, inbox, event, (tx) =>
        effect(tx, event.data as D, event as EventEnvelope<D>),
      );
    },
  });
}

/** A subscription builder whose effects run through `run` (an inbox, or nothing). */
function subscriber(run: (event: EventEnvelope, effect: () => Promise<unknown>) => Promise<unknown>) {
  return <D extends Record<string, unknown>>(
    definition: EventDefinition<D>,
    effect: (data: D, event: EventEnvelope<D>) => Promise<unknown>,
  ): Subscription => ({
    type: definition.type,
    topic: definition.topic,
    handle: async ({ event }) => {
      await run(event, () => effect(event.data as D, event as EventEnvelope<D>));
    },
  });
}

/**
 * Builds subscriptions for a MongoDB service. Without multi-document transactions each effect must
 * be idempotent on its own (upserts, inserts guarded by a unique index); the inbox record, keyed by
 * `inbox` and the event id, then only spares repeating it.
 */
export function mongoInboxSubscriber(inbox: MongoInbox, name: string) {
  return subscriber((event, effect) => inbox.handleOnce(name, event, effect));
}

/**
 * Builds subscriptions whose effect is safe to repeat and to replay in order (a pure `$set` upsert
 * from the event's data, inserts keyed by ids derived from the event): no inbox record, which would
 * cost a lookup and an insert for every event and spare nothing. Redeliveries come in partition
 * order from the last committed offset, so the effects converge on the same state.
 */
export function idempotentSubscriber() {
  return subscriber((_event, effect) => effect());
}

/** A service's subscriptions on the activity topics, and the others, each in list order. */
export function byActivity(subscriptions: Subscription[]): {
  activity: Subscription[];
  other: Subscription[];
} {
  return {
    activity: subscriptions.filter((s) => ACTIVITY_TOPICS.has(s.topic)),
    other: subscriptions.filter((s) => !ACTIVITY_TOPICS.has(s.topic)),
  };
}

/**
 * Consumer options for a service's list of subscriptions under one group. Several subscriptions
 * may share a type (a projection, then the effect that reads it): they run in list order.
 */
export function consumerOf(groupId: string, subscriptions: Subscription[]): ConsumerOptions {
  const byType = new Map<string, EventHandler[]>();
  for (const s of subscriptions) byType.set(s.type, [...(byType.get(s.type) ?? []), s.handle]);
  return {
    groupId,
    topics: [...new Set(subscriptions.map((s) => s.topic))],
    handle: routeByType(
      Object.fromEntries(
        [...byType].map(([type, handlers]): [string, EventHandler] => [
          type,
          async (consumed) => {
            for (const handle of handlers) await handle(consumed);
          },
        ]),
      ),
    ),
  };
}
