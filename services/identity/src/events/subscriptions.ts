import type { Sequelize, Transaction } from 'sequelize';
import {
  governanceEvents,
  handleOnce,
  routeByType,
  type ConsumerOptions,
  type EventDefinition,
  type EventHandler,
} from '@trellis/shared';
import type { OrgDirectory } from '../orgs/orgs.service.ts';

/** Consumer group, and the inbox name under which handled event ids are recorded. */
export const CONSUMER_GROUP = 'identity';

interface Subscription {
  type: string;
  topic: string;
  handle: EventHandler;
}

/**
 * Everything identity consumes, in one list: governance's orgs and memberships, projected into
 * `org_projection` and `org_members`. Each effect runs through the inbox, so a redelivered event
 * changes nothing.
 */
export function identitySubscriptions(deps: { sequelize: Sequelize; orgs: OrgDirectory }): ConsumerOptions {
  const { sequelize, orgs } = deps;
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

  const subscriptions = [
    on(governanceEvents.orgCreated, (tx, d) => orgs.orgLive(tx, d.orgId, d.ownerId)),
    on(governanceEvents.orgRestored, (tx, d) => orgs.orgLive(tx, d.orgId, d.ownerId)),
    on(governanceEvents.orgOwnershipTransferred, (tx, d) =>
      orgs.ownershipTransferred(tx, d.orgId, d.toUserId),
    ),
    on(governanceEvents.orgDeleted, (tx, d) => orgs.orgDeleted(tx, d.orgId)),
    on(governanceEvents.memberAdded, (tx, d) => orgs.addMember(tx, d.orgId, d.userId)),
    on(governanceEvents.memberRemoved, (tx, d) => orgs.removeMember(tx, d.orgId, d.userId)),
  ];

  return {
    groupId: CONSUMER_GROUP,
    topics: [...new Set(subscriptions.map((s) => s.topic))],
    handle: routeByType(Object.fromEntries(subscriptions.map((s) => [s.type, s.handle]))),
  };
}
