import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import { z } from 'zod';
import {
  AppError,
  authorize,
  decide,
  errors,
  governanceEvents,
  orgRoleSchema,
  type Page,
  type PgOutbox,
} from '@trellis/shared';
import type { AccessService } from '../access/access.service.ts';
import { governanceEvent } from '../events/outgoing.ts';
import type { InvitationService } from '../invitations/invitations.service.ts';
import type { Invitee } from '../invitations/my-invitations.service.ts';
import { afterCursor, keysetPage } from '../keyset.ts';
import type { MemberService } from '../members/members.service.ts';
import type { Models } from '../models.ts';
import { orgSettingsOf } from '../orgs/orgs.views.ts';
import type { TeamService } from '../teams/teams.service.ts';
import type { ApprovalGate, PendingApproval } from './approval-gate.ts';
import type { ApprovalInstance, ApprovalState } from './approvals.model.ts';
import type { ApprovalView } from './approvals.schemas.ts';
import { approvalData, toApprovalView } from './approvals.views.ts';

// What each kind holds, read back when the approval executes it.
const userPayload = z.object({ userId: z.uuid() });
const rolePayload = z.object({ userId: z.uuid(), role: orgRoleSchema });
const teamPayload = z.object({ name: z.string().min(1), description: z.string().nullable() });
const invitationPayload = z.object({ invitationId: z.uuid(), email: z.string(), role: orgRoleSchema });

/** The approved action was refused by its re-run checks (carries their error). */
class ExecutionFailed extends Error {
  readonly failure: AppError;

  constructor(failure: AppError) {
    super(failure.message);
    this.failure = failure;
  }
}

/**
 * Approvals (product.md §5): list, approve (executing the held action at that moment, as the
 * requester, every check re-run, in the transaction that marks it APPROVED), reject, cancel; join
 * requests; `project.create` requests arriving from work.
 */
export class ApprovalService {
  private readonly sequelize: Sequelize;
  private readonly models: Models;
  private readonly outbox: PgOutbox;
  private readonly access: AccessService;
  private readonly gate: ApprovalGate;
  private readonly members: MemberService;
  private readonly teams: TeamService;
  private readonly invitations: InvitationService;

  constructor(deps: {
    sequelize: Sequelize;
    models: Models;
    outbox: PgOutbox;
    access: AccessService;
    gate: ApprovalGate;
    members: MemberService;
    teams: TeamService;
    invitations: InvitationService;
  }) {
    this.sequelize = deps.sequelize;
    this.models = deps.models;
    this.outbox = deps.outbox;
    this.access = deps.access;
    this.gate = deps.gate;
    this.members = deps.members;
    this.teams = deps.teams;
    this.invitations = deps.invitations;
  }

  /**
   * Any signed-in user asks to join an org found by id, when it accepts join requests. The one
   * route where a non-member reaches inside an org: 404 only for an org that does not exist (or is
   * deleted), 403 when join requests are off, 409 for a member or a second pending request.
   */
  async requestJoin(user: Invitee, orgId: string): Promise<PendingApproval> {
    return this.sequelize.transaction(async (transaction) => {
      const org = await this.models.Org.findByPk(orgId, { transaction, lock: transaction.LOCK.UPDATE });
      if (!org) throw errors.notFound('organization');
      if (!orgSettingsOf(org).allowJoinRequests)
        throw errors.forbidden('This organization does not accept join requests.');
      if (await this.models.OrgMember.findOne({ where: { orgId, userId: user.id }, transaction }))
        throw errors.conflict('You are already a member of this organization.');
      const pending = await this.models.Approval.findOne({
        where: { orgId, requestedBy: user.id, kind: 'membership.join', state: 'PENDING' },
        transaction,
      });
      if (pending) throw errors.conflict('You already have a pending request to join this organization.');
      const known = await this.models.DirectoryUser.findOne({
        where: { id: user.id, deletedAt: null },
        transaction,
      });
      return this.gate.request(transaction, {
        orgId,
        kind: 'membership.join',
        requestedBy: user.id,
        payload: { userId: user.id, email: user.email, name: known?.name ?? null },
      });
    });
  }

  /** Those who may decide (`approval.decide`) see every approval; other members their own requests. */
  async list(
    actorId: string,
    orgId: string,
    query: { state?: ApprovalState | undefined; limit: number; cursor?: string | undefined },
  ): Promise<Page<ApprovalView>> {
    const actor = await this.access.org(orgId, actorId);
    const mayDecide = decide({
      scope: 'org',
      action: 'approval.decide',
      memberships: { orgRole: actor.role },
      settings: { org: orgSettingsOf(actor.org) },
    }).allowed;
    const keyset = afterCursor(query.cursor, 'a.created_at', 'a.id');
    const filters = [keyset.condition];
    if (!mayDecide) filters.push('a.requested_by = :actorId');
    if (query.state) filters.push('a.state = :state');
    const rows = await this.sequelize.query<{ id: string; at: string }>(
      `SELECT a.id, a.created_at::text AS at FROM approvals a
        WHERE a.org_id = :orgId AND ${filters.join(' AND ')}
        ORDER BY a.created_at, a.id
        LIMIT :take`,
      {
        replacements: { orgId, actorId, state: query.state, take: query.limit + 1, ...keyset.replacements },
        type: QueryTypes.SELECT,
      },
    );
    const found = await this.models.Approval.findAll({ where: { id: rows.map((row) => row.id) } });
    const byId = new Map(found.map((approval) => [approval.id, approval]));
    return keysetPage(
      rows.filter((row) => byId.has(row.id)),
      query.limit,
      (row) => toApprovalView(byId.get(row.id) as ApprovalInstance),
    );
  }

  /**
   * Approves and executes the held action now, as the requester, with every check re-run. When
   * those checks refuse it, the approval is stored as FAILED with the reason and the answer is 409
   * (the refusal's own code when it was a 409, e.g. LIMIT_REACHED; CONFLICT otherwise).
   */
  async approve(
    deciderId: string,
    orgId: string,
    approvalId: string,
    comment?: string,
  ): Promise<ApprovalView> {
    try {
      return await this.sequelize.transaction(async (transaction) => {
        const approval = await this.decidable(transaction, deciderId, orgId, approvalId);
        try {
          await this.execute(transaction, approval, deciderId);
        } catch (err) {
          if (err instanceof AppError && err.status < 500) throw new ExecutionFailed(err);
          throw err;
        }
        return this.conclude(transaction, approval, deciderId, 'APPROVED', comment ?? null);
      });
    } catch (err) {
      if (!(err instanceof ExecutionFailed)) throw err;
      const { failure } = err;
      const failed = await this.sequelize.transaction(async (transaction) => {
        const approval = await this.decidable(transaction, deciderId, orgId, approvalId);
        return this.conclude(transaction, approval, deciderId, 'FAILED', failure.message);
      });
      throw new AppError(409, failure.status === 409 ? failure.code : 'CONFLICT', {
        detail: `The approved action could not be carried out: ${failure.message}`,
        extensions: {
          ...failure.extensions,
          approval: failed,
          cause: { status: failure.status, code: failure.code },
        },
      });
    }
  }

  /** Rejects: nothing happens (an invitation waiting for it is never issued). */
  async reject(deciderId: string, orgId: string, approvalId: string, reason?: string): Promise<ApprovalView> {
    return this.sequelize.transaction(async (transaction) => {
      const approval = await this.decidable(transaction, deciderId, orgId, approvalId);
      return this.conclude(transaction, approval, deciderId, 'REJECTED', reason ?? null);
    });
  }

  /**
   * The requester withdraws a pending request. A join requester is not a member, yet may cancel
   * their own request; anyone else gets the tenancy answer (404) or, inside the org, 403.
   */
  async cancel(actorId: string, orgId: string, approvalId: string): Promise<ApprovalView> {
    return this.sequelize.transaction(async (transaction) => {
      const org = await this.models.Org.findByPk(orgId, { transaction, lock: transaction.LOCK.UPDATE });
      const approval = org
        ? await this.models.Approval.findOne({
            where: { id: approvalId, orgId },
            transaction,
            lock: transaction.LOCK.UPDATE,
          })
        : null;
      if (!approval || approval.requestedBy !== actorId) {
        await this.access.org(orgId, actorId, { transaction });
        if (!approval) throw errors.notFound('approval');
        throw errors.forbidden('Only the requester can cancel a request.');
      }
      if (approval.state !== 'PENDING') throw errors.conflict(`The approval is already ${approval.state}.`);
      await this.withdrawHeld(transaction, approval);
      await approval.update({ state: 'CANCELLED' }, { transaction });
      await this.outbox.add(
        transaction,
        governanceEvent(governanceEvents.approvalCancelled, {
          orgId,
          actorId,
          subjectId: approval.id,
          data: approvalData(approval),
        }),
      );
      return toApprovalView(approval);
    });
  }

  /**
   * work created a project as PENDING_APPROVAL: it becomes a `project.create` approval (once, even
   * if work sends the request again). Events about an org that no longer exists are dropped.
   */
  async recordProjectRequest(
    transaction: Transaction,
    request: {
      projectId: string;
      orgId: string;
      teamId: string | null;
      name: string;
      key: string;
      requestedBy: string;
    },
  ): Promise<void> {
    const org = await this.models.Org.findByPk(request.orgId, { transaction, lock: transaction.LOCK.UPDATE });
    if (!org) return;
    const [existing] = await this.sequelize.query<{ id: string }>(
      `SELECT id FROM approvals WHERE org_id = :orgId AND kind = 'project.create'
          AND payload->>'projectId' = :projectId LIMIT 1`,
      {
        replacements: { orgId: request.orgId, projectId: request.projectId },
        type: QueryTypes.SELECT,
        transaction,
      },
    );
    if (existing) return;
    await this.gate.request(transaction, {
      orgId: request.orgId,
      kind: 'project.create',
      requestedBy: request.requestedBy,
      payload: { projectId: request.projectId, teamId: request.teamId, name: request.name, key: request.key },
    });
  }

  /**
   * The checks of a decision, after the org lock: the approval exists in the org (404), the decider
   * meets `approval.decide` (403 POLICY_DENIED), it is still PENDING (409), and the decider is not
   * the requester (403 FORBIDDEN; four eyes, the org OWNER exempt).
   */
  private async decidable(
    transaction: Transaction,
    deciderId: string,
    orgId: string,
    approvalId: string,
  ): Promise<ApprovalInstance> {
    const decider = await this.access.org(orgId, deciderId, { transaction, lock: true });
    const approval = await this.models.Approval.findOne({
      where: { id: approvalId, orgId },
      transaction,
      lock: transaction.LOCK.UPDATE,
    });
    if (!approval) throw errors.notFound('approval');
    const decision = authorize({
      scope: 'org',
      action: 'approval.decide',
      memberships: { orgRole: decider.role },
      settings: { org: orgSettingsOf(decider.org) },
    });
    if (approval.state !== 'PENDING') throw errors.conflict(`The approval is already ${approval.state}.`);
    if (approval.requestedBy === deciderId && !decision.bypass)
      throw errors.forbidden('You cannot decide your own request (four eyes): another approver must.');
    return approval;
  }

  /** Runs the held action through its own use case, as the requester, in this transaction. */
  private async execute(
    transaction: Transaction,
    approval: ApprovalInstance,
    deciderId: string,
  ): Promise<void> {
    const { orgId, requestedBy: actorId, payload } = approval;
    const options = { transaction, approved: true };
    switch (approval.kind) {
      case 'member.remove': {
        const { userId } = userPayload.parse(payload);
        await this.members.remove(actorId, orgId, userId, options);
        return;
      }
      case 'member.updateRole': {
        const { userId, role } = rolePayload.parse(payload);
        await this.members.changeRole(actorId, orgId, userId, role, options);
        return;
      }
      case 'team.create': {
        await this.teams.create(actorId, orgId, teamPayload.parse(payload), options);
        return;
      }
      case 'invitation.send': {
        const { invitationId, email, role } = invitationPayload.parse(payload);
        await this.invitations.create(actorId, orgId, { email, role }, { ...options, invitationId });
        return;
      }
      case 'membership.join': {
        // Joining with the org's default role at this moment; the member limit holds.
        const org = await this.models.Org.findByPk(orgId, { transaction });
        if (!org) throw errors.notFound('organization');
        const role = orgSettingsOf(org).defaultMemberRole;
        await this.members.add(transaction, { orgId, userId: actorId, role, actorId: deciderId });
        return;
      }
      case 'project.create':
        // work activates the project when approval.decided arrives; nothing to run here.
        return;
    }
  }

  /** Stores the decision and publishes `approval.decided`. */
  private async conclude(
    transaction: Transaction,
    approval: ApprovalInstance,
    deciderId: string,
    outcome: 'APPROVED' | 'REJECTED' | 'FAILED',
    reason: string | null,
  ): Promise<ApprovalView> {
    if (outcome !== 'APPROVED') await this.withdrawHeld(transaction, approval);
    await approval.update(
      {
        state: outcome,
        decision: outcome === 'REJECTED' ? 'REJECTED' : 'APPROVED',
        decidedBy: deciderId,
        reason,
        decidedAt: new Date(),
      },
      { transaction },
    );
    await this.outbox.add(
      transaction,
      governanceEvent(governanceEvents.approvalDecided, {
        orgId: approval.orgId,
        actorId: deciderId,
        subjectId: approval.id,
        data: { ...approvalData(approval), decision: outcome, decidedBy: deciderId, reason },
      }),
    );
    return toApprovalView(approval);
  }

  /** An invitation waiting for this approval is never issued once it will not be approved. */
  private async withdrawHeld(transaction: Transaction, approval: ApprovalInstance): Promise<void> {
    if (approval.kind !== 'invitation.send') return;
    const { invitationId } = invitationPayload.parse(approval.payload);
    await this.invitations.withdraw(transaction, invitationId);
  }
}
