import type { Sequelize } from 'sequelize';
import { identityEvents, inboxSubscriber, workEvents, type Subscription } from '@trellis/shared';
import type { ApprovalService } from '../approvals/approvals.service.ts';
import type { DirectoryService } from '../directory/directory.service.ts';

/** Consumer group of governance's state changes, and the inbox name of the handled event ids. */
export const CONSUMER_GROUP = 'governance';

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
  const on = inboxSubscriber(sequelize, CONSUMER_GROUP);

  return [
    on(identityEvents.userRegistered, (tx, d) => directory.upsert(tx, d)),
    on(identityEvents.userUpdated, (tx, d) => directory.upsert(tx, d)),
    on(identityEvents.userDeleted, (tx, d) => directory.userDeleted(tx, d.userId)),
    on(workEvents.projectApprovalRequested, (tx, d) => approvals.recordProjectRequest(tx, d)),
  ];
}
