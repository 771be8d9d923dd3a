import type { Sequelize, Transaction } from 'sequelize';
import { governanceEvents, inboxSubscriber, membershipRules, type Subscription } from '@trellis/shared';
import type { AccessMemo } from '../access/access-memo.ts';
import type { ProjectionService } from '../access/projection.service.ts';
import type { ProjectApprovalService } from '../projects/project-approvals.service.ts';

/** Consumer group of work's state changes, and the inbox name of the handled event ids. */
export const CONSUMER_GROUP = 'work';

/**
 * Everything work consumes, in one list: governance's orgs, memberships and teams and identity's
 * users into the authorization projection, by the shared rules (`membershipRules`);
 * `approval.decided` for `project.create` activates or discards a waiting project. Each effect runs through the inbox, so a redelivered event changes
 * nothing, and under the access memo's guard, so no access decision outlives the change.
 */
export function workSubscriptions(deps: {
  sequelize: Sequelize;
  projection: ProjectionService;
  projectApprovals: ProjectApprovalService;
  memo: AccessMemo;
}): Subscription[] {
  const { sequelize, projection: p, projectApprovals, memo } = deps;
  const on = inboxSubscriber(sequelize, CONSUMER_GROUP);

  return [
    ...membershipRules((tx: Transaction) => p.within(tx), on),
    on(governanceEvents.approvalDecided, (tx, d) => projectApprovals.applyApproval(tx, d)),
  ].map((subscription) => memo.guard(subscription));
}
