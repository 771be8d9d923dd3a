import type { Sequelize } from 'sequelize';
import { governanceEvents, inboxSubscriber, type Subscription } from '@trellis/shared';
import type { OrgDirectory } from '../orgs/orgs.service.ts';

/** Consumer group, and the inbox name under which handled event ids are recorded. */
export const CONSUMER_GROUP = 'identity';

/**
 * Everything identity consumes, in one list: governance's orgs and memberships, projected into
 * `org_projection` and `org_members`. Each effect runs through the inbox, so a redelivered event
 * changes nothing.
 */
export function identitySubscriptions(deps: { sequelize: Sequelize; orgs: OrgDirectory }): Subscription[] {
  const { sequelize, orgs } = deps;
  const on = inboxSubscriber(sequelize, CONSUMER_GROUP);

  return [
    on(governanceEvents.orgCreated, (tx, d) => orgs.orgLive(tx, d.orgId, d.ownerId)),
    on(governanceEvents.orgRestored, (tx, d) => orgs.orgLive(tx, d.orgId, d.ownerId)),
    on(governanceEvents.orgOwnershipTransferred, (tx, d) =>
      orgs.ownershipTransferred(tx, d.orgId, d.toUserId),
    ),
    on(governanceEvents.orgDeleted, (tx, d) => orgs.orgDeleted(tx, d.orgId)),
    on(governanceEvents.memberAdded, (tx, d) => orgs.addMember(tx, d.orgId, d.userId)),
    on(governanceEvents.memberRemoved, (tx, d) => orgs.removeMember(tx, d.orgId, d.userId)),
  ];
}
