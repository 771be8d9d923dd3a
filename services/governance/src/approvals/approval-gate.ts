import { randomUUID } from 'node:crypto';
import type { Sequelize, Transaction } from 'sequelize';
import {
  governanceEvents,
  type OrgSettings,
  type PgOutbox,
  type PolicyDecision,
  type RequireApproval,
} from '@trellis/shared';
import { governanceEvent } from '../events/outgoing.ts';
import type { Models } from '../models.ts';
import type { ApprovalKind } from './approvals.model.ts';
import type { ApprovalView } from './approvals.schemas.ts';
import { approvalData, toApprovalView } from './approvals.views.ts';

/** How a use case is run: by a request (defaults), or by an approval executing it. */
export interface UseCaseOptions {
  /** Run inside this transaction (the approval's) instead of opening one. */
  transaction?: Transaction | undefined;
  /** The action has been approved: skip the approval gate. Every other check still runs. */
  approved?: boolean | undefined;
}

/** What a gated use case answers instead of its result: 202 `{approval}`. */
export interface PendingApproval {
  approval: ApprovalView;
}

export function isPending(result: unknown): result is PendingApproval {
  return typeof result === 'object' && result !== null && 'approval' in result;
}

/** The caller's transaction when there is one (an approval executing the use case), else a new one. */
export function inTransaction<T>(
  sequelize: Sequelize,
  transaction: Transaction | undefined,
  work: (transaction: Transaction) => Promise<T>,
): Promise<T> {
  return transaction ? work(transaction) : sequelize.transaction(work);
}

type GatedKind = Exclude<ApprovalKind, 'membership.join'>;

/** Which `requireApproval` flag covers which action (product.md §3, §5). */
const FLAG: Record<GatedKind, keyof RequireApproval> = {
  'invitation.send': 'invites',
  'member.updateRole': 'roleChanges',
  'member.remove': 'removals',
  'team.create': 'teamCreation',
  'project.create': 'projectCreation',
};

/**
 * The approval gate of product.md §5. A use case runs its normal checks, then asks `required`; when
 * the org's flag covers the action and the actor is not the org OWNER (the policy's bypass), it
 * records the intended action with `request` instead of executing it.
 */
export class ApprovalGate {
  private readonly models: Models;
  private readonly outbox: PgOutbox;

  constructor(deps: { models: Models; outbox: PgOutbox }) {
    this.models = deps.models;
    this.outbox = deps.outbox;
  }

  required(
    kind: GatedKind,
    settings: OrgSettings,
    decision: Pick<PolicyDecision, 'bypass'>,
    options: UseCaseOptions,
  ): boolean {
    return settings.requireApproval[FLAG[kind]] && !decision.bypass && !options.approved;
  }

  /** A PENDING approval holding the action, and `approval.requested`, in the caller's transaction. */
  async request(
    transaction: Transaction,
    input: { orgId: string; kind: ApprovalKind; requestedBy: string; payload: Record<string, unknown> },
  ): Promise<PendingApproval> {
    const approval = await this.models.Approval.create(
      { id: randomUUID(), ...input, state: 'PENDING' },
      { transaction },
    );
    await this.outbox.add(
      transaction,
      governanceEvent(governanceEvents.approvalRequested, {
        orgId: input.orgId,
        actorId: input.requestedBy,
        subjectId: approval.id,
        data: approvalData(approval),
      }),
    );
    return { approval: toApprovalView(approval) };
  }
}
