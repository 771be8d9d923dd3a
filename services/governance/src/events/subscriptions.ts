import type { Sequelize, Transaction } from 'sequelize';
import {
  governanceEvents,
  handleOnce,
  identityEvents,
  routeByType,
  type ConsumerOptions,
  type EventDefinition,
  type EventHandler,
} from '@trellis/shared';
import type { ApprovalService } from '../approvals/approvals.service.ts';
import type { DirectoryService } from '../directory/directory.service.ts';

/** Consumer group of governance's state changes, and the inbox name of the handled event ids. */
export const CONSUMER_GROUP = 'governance';

export interface Subscription {
  type: string;
  topic: string;
  handle: EventHandler;
}

/**
 * Everything governance consumes for its own state, in one list: `identity.user` into the user
 * directory (and a deleted user leaves every org and team); work's `project.approvalRequested`
 * into a `project.create` approval. Each effect runs through the inbox, so a redelivered event
 * changes nothing. The audit log has its own consumer next to this one.
 */
export function governanceSubscriptions(deps: {
  sequelize: Sequelize;
  directory: DirectoryService;
  approvals: ApprovalService;
}): Subscription[] {
  const { sequelize, directory, approvals } = deps;
  const on = <D extends Record<string, unknown>>(
    definition: EventDefinition<D>,
    effect: (transaction: Transaction, data: D) => Promise<void>,
  ): Subscription => ({
    type: definition.type,
    topic: definition.topic,
    handle: async ({ event }) => {
      // The consumer has already validated `data` against this definition's schema.
      await handleOnce(sequelize, CONSUMER_GROUP, event, (tx) => effect(tx, event.data as D));
    },
  });

  return [
    on(identityEvents.userRegistered, (tx, d) => directory.upsert(tx, d)),
    on(identityEvents.userUpdated, (tx, d) => directory.upsert(tx, d)),
    on(identityEvents.userDeleted, (tx, d) => directory.userDeleted(tx, d.userId)),
    on(governanceEvents.projectApprovalRequested, (tx, d) => approvals.recordProjectRequest(tx, d)),
  ];
}

/** The handler map by event type, for `routeByType`. */
export function handlerMap(subscriptions: Subscription[]): Record<string, EventHandler> {
  return Object.fromEntries(subscriptions.map((s) => [s.type, s.handle]));
}

/** Consumer options for a list of subscriptions under one group. */
export function consumerOf(groupId: string, subscriptions: Subscription[]): ConsumerOptions {
  return {
    groupId,
    topics: [...new Set(subscriptions.map((s) => s.topic))],
    handle: routeByType(handlerMap(subscriptions)),
  };
}
