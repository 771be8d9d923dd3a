import type { Sequelize, Transaction } from 'sequelize';
import type { EventEnvelope } from './envelope.ts';
import type { ConsumerOptions, EventHandler } from './kafka.ts';
import { routeByType } from './kafka.ts';
import { handleOnce } from './pg-inbox.ts';
import type { EventDefinition } from './registry.ts';

/** One event type a service reacts to: where it arrives and what to do. */
export interface Subscription {
  type: string;
  topic: string;
  handle: EventHandler;
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

/** Consumer options for a service's list of subscriptions under one group. */
export function consumerOf(groupId: string, subscriptions: Subscription[]): ConsumerOptions {
  return {
    groupId,
    topics: [...new Set(subscriptions.map((s) => s.topic))],
    handle: routeByType(Object.fromEntries(subscriptions.map((s) => [s.type, s.handle]))),
  };
}
