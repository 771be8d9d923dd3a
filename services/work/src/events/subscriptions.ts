import type { Sequelize } from 'sequelize';
import { governanceEvents, identityEvents, inboxSubscriber, type Subscription } from '@trellis/shared';
import type { AccessMemo } from '../access/access-memo.ts';
import type { ProjectionService } from '../access/projection.service.ts';
import type { ProjectApprovalService } from '../projects/project-approvals.service.ts';

/** Consumer group of work's state changes, and the inbox name of the handled event ids. */
export const CONSUMER_GROUP = 'work';

/**
 * Everything work consumes, in one list: governance's orgs, memberships and teams and identity's
 * users into the authorization projection; `approval.decided` for `project.create` activates or
 * discards a waiting project. Each effect runs through the inbox, so a redelivered event changes
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
  const g = governanceEvents;

  return [
    on(g.orgCreated, (tx, d) => p.orgUpserted(tx, d)),
    on(g.orgUpdated, (tx, d) => p.orgUpserted(tx, d)),
    on(g.orgRestored, (tx, d) => p.orgUpserted(tx, d, true)),
    on(g.orgDeleted, (tx, d) => p.orgDeleted(tx, d.orgId)),
    on(g.orgOwnershipTransferred, (tx, d) => p.orgOwnershipTransferred(tx, d)),
    on(g.orgSettingsChanged, (tx, d) => p.orgSettingsChanged(tx, d)),
    on(g.memberAdded, (tx, d) => p.orgMemberSet(tx, d)),
    on(g.memberRoleChanged, (tx, d) => p.orgMemberSet(tx, { orgId: d.orgId, userId: d.userId, role: d.to })),
    on(g.memberRemoved, (tx, d) => p.orgMemberRemoved(tx, d)),
    on(g.teamCreated, (tx, d) => p.teamUpserted(tx, d)),
    on(g.teamUpdated, (tx, d) => p.teamUpserted(tx, d)),
    on(g.teamDeleted, (tx, d) => p.teamDeleted(tx, d)),
    on(g.teamOwnershipTransferred, (tx, d) => p.teamOwnershipTransferred(tx, d)),
    on(g.teamSettingsChanged, (tx, d) => p.teamSettingsChanged(tx, d)),
    on(g.teamMemberAdded, (tx, d) => p.teamMemberSet(tx, d)),
    on(g.teamMemberRoleChanged, (tx, d) => p.teamMemberSet(tx, { ...d, role: d.to })),
    on(g.teamMemberRemoved, (tx, d) => p.teamMemberRemoved(tx, d)),
    on(g.approvalDecided, (tx, d) => projectApprovals.applyApproval(tx, d)),
    on(identityEvents.userRegistered, (tx, d) => p.userUpserted(tx, d)),
    on(identityEvents.userUpdated, (tx, d) => p.userUpserted(tx, d)),
    on(identityEvents.userDeleted, (tx, d) => p.userDeleted(tx, d.userId)),
  ].map((subscription) => memo.guard(subscription));
}
