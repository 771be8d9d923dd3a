// Invitations from the org's side: invite, list, read, revoke, resend, and the approval's hooks.
import { randomUUID } from 'node:crypto';
import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import {
  authorize,
  checkGrantedRole,
  errors,
  governanceEvents,
  type OrgRole,
  type Page,
  type PgOutbox,
} from '@trellis/shared';
import type { AccessService, OrgContext } from '../access/access.service.ts';
import {
  inTransaction,
  type ApprovalGate,
  type PendingApproval,
  type UseCaseOptions,
} from '../approvals/approval-gate.ts';
import { governanceEvent } from '../events/outgoing.ts';
import { afterCursor, keysetPage } from '../keyset.ts';
import type { Models } from '../models.ts';
import { orgSettingsOf } from '../orgs/orgs.views.ts';
import { expire } from './invitations.expiry.ts';
import { effectiveState, type InvitationInstance, type InvitationState } from './invitations.model.ts';
import type { InvitationView } from './invitations.schemas.ts';
import { newToken } from './invitations.tokens.ts';
import { rowView, toInvitationView, type InvitationRow } from './invitations.views.ts';

/** product.md §5: an invitation expires 7 days after it is issued (or resent). */
export const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/** The state a reader sees: EXPIRED once a PENDING invitation's time has passed. */
const EFFECTIVE_STATE = `CASE WHEN i.state = 'PENDING' AND i.expires_at <= now() THEN 'EXPIRED' ELSE i.state END`;

/**
 * Org invitations (product.md §5): sent by e-mail with a single-use token, accepted by the
 * signed-in user the invitation is addressed to. Writes lock the org row first, like every other
 * write in the org, so the member limit, "already a member" and "one live invitation" cannot race.
 */
export class InvitationService {
  private readonly sequelize: Sequelize;
  private readonly models: Models;
  private readonly outbox: PgOutbox;
  private readonly access: AccessService;
  private readonly gate: ApprovalGate;

  constructor(deps: {
    sequelize: Sequelize;
    models: Models;
    outbox: PgOutbox;
    access: AccessService;
    gate: ApprovalGate;
  }) {
    this.sequelize = deps.sequelize;
    this.models = deps.models;
    this.outbox = deps.outbox;
    this.access = deps.access;
    this.gate = deps.gate;
  }

  /**
   * `member.invite` by policy; the role below the inviter's own (never OWNER); 409 when the address
   * is already a member's or has a live invitation. With `requireApproval.invites` (and an inviter
   * other than the OWNER) the invitation is recorded as PENDING_APPROVAL with no token; approving
   * runs this again as the inviter, with `invitationId`, which issues it.
   */
  async create(
    actorId: string,
    orgId: string,
    input: { email: string; role: OrgRole },
    options: UseCaseOptions & { invitationId?: string | undefined } = {},
  ): Promise<InvitationView | PendingApproval> {
    return inTransaction(this.sequelize, options.transaction, async (transaction) => {
      const actor = await this.access.org(orgId, actorId, { transaction, lock: true });
      const settings = orgSettingsOf(actor.org);
      const decision = authorize({
        scope: 'org',
        action: 'member.invite',
        memberships: { orgRole: actor.role },
        settings: { org: settings },
      });
      checkGrantedRole({
        scope: 'org',
        actorRole: actor.role,
        actorBypass: decision.bypass,
        role: input.role,
      });
      const email = input.email.trim();
      await this.assertInvitable(transaction, orgId, email, options.invitationId);
      if (this.gate.required('invitation.send', settings, decision, options)) {
        const id = randomUUID();
        const pending = await this.gate.request(transaction, {
          orgId,
          kind: 'invitation.send',
          requestedBy: actorId,
          payload: { invitationId: id, email, role: input.role },
        });
        await this.models.Invitation.create(
          {
            id,
            orgId,
            email,
            role: input.role,
            state: 'PENDING_APPROVAL',
            invitedBy: actorId,
            approvalId: pending.approval.id,
          },
          { transaction },
        );
        return pending;
      }
      let invitation: InvitationInstance;
      if (options.invitationId) {
        const awaiting = await this.models.Invitation.findOne({
          where: { id: options.invitationId, orgId },
          transaction,
          lock: transaction.LOCK.UPDATE,
        });
        if (!awaiting || awaiting.state !== 'PENDING_APPROVAL')
          throw errors.conflict('The invitation is no longer waiting for approval.');
        invitation = awaiting;
      } else {
        invitation = this.models.Invitation.build({
          id: randomUUID(),
          orgId,
          email,
          role: input.role,
          state: 'PENDING',
          invitedBy: actorId,
        });
      }
      const token = this.issue(invitation);
      await invitation.save({ transaction });
      await this.publishIssued(transaction, actor, invitation, token, 'created');
      return toInvitationView(invitation);
    });
  }

  /** Every invitation of the org, to those who may invite (`member.invite`), filtered by state. */
  async list(
    actorId: string,
    orgId: string,
    query: { state?: InvitationState | undefined; limit: number; cursor?: string | undefined },
  ): Promise<Page<InvitationView>> {
    const actor = await this.access.org(orgId, actorId);
    this.authorizeInvite(actor);
    const keyset = afterCursor(query.cursor, 'i.created_at', 'i.id');
    const filters = [keyset.condition];
    if (query.state) filters.push(`${EFFECTIVE_STATE} = :state`);
    const rows = await this.sequelize.query<InvitationRow>(
      `SELECT i.id, i.created_at::text AS at, i.org_id, i.email, i.role, ${EFFECTIVE_STATE} AS state,
              i.expires_at, i.invited_by, i.created_at
         FROM invitations i
        WHERE i.org_id = :orgId AND ${filters.join(' AND ')}
        ORDER BY i.created_at, i.id
        LIMIT :take`,
      {
        replacements: { orgId, state: query.state, take: query.limit + 1, ...keyset.replacements },
        type: QueryTypes.SELECT,
      },
    );
    return keysetPage(rows, query.limit, rowView);
  }

  async get(actorId: string, orgId: string, invitationId: string): Promise<InvitationView> {
    const actor = await this.access.org(orgId, actorId);
    this.authorizeInvite(actor);
    const invitation = await this.models.Invitation.findOne({ where: { id: invitationId, orgId } });
    if (!invitation) throw errors.notFound('invitation');
    return toInvitationView(invitation);
  }

  /** A live (PENDING) invitation → REVOKED; its token is dead. Same checks as inviting with its role. */
  async revoke(actorId: string, orgId: string, invitationId: string): Promise<InvitationView> {
    return this.sequelize.transaction(async (transaction) => {
      const { invitation } = await this.manageable(transaction, actorId, orgId, invitationId);
      const state = effectiveState(invitation);
      if (state !== 'PENDING') throw errors.conflict(this.cannot('revoke', state));
      await invitation.update({ state: 'REVOKED' }, { transaction });
      await this.outbox.add(
        transaction,
        governanceEvent(governanceEvents.invitationRevoked, {
          orgId,
          actorId,
          subjectId: invitation.id,
          data: { invitationId: invitation.id, orgId, email: invitation.email },
        }),
      );
      return toInvitationView(invitation);
    });
  }

  /**
   * A new token and a new 7 days for a PENDING or EXPIRED invitation, and a new e-mail; the old
   * token is dead at once. The address must still be invitable (not a member, no other live one).
   */
  async resend(actorId: string, orgId: string, invitationId: string): Promise<InvitationView> {
    return this.sequelize.transaction(async (transaction) => {
      const { actor, invitation } = await this.manageable(transaction, actorId, orgId, invitationId);
      const state = effectiveState(invitation);
      if (state !== 'PENDING' && state !== 'EXPIRED') throw errors.conflict(this.cannot('resend', state));
      await this.assertInvitable(transaction, orgId, invitation.email, invitation.id);
      await invitation.reload({ transaction });
      const token = this.issue(invitation);
      await invitation.save({ transaction });
      await this.publishIssued(transaction, actor, invitation, token, 'resent');
      return toInvitationView(invitation);
    });
  }

  /**
   * An `invitation.send` approval was rejected, cancelled or failed: the invitation that waited for
   * it is never issued (→ REVOKED, no token ever existed, so no invitation event either).
   */
  async withdraw(transaction: Transaction, invitationId: string): Promise<void> {
    await this.models.Invitation.update(
      { state: 'REVOKED' },
      { where: { id: invitationId, state: 'PENDING_APPROVAL' }, transaction },
    );
  }

  private authorizeInvite(actor: OrgContext) {
    return authorize({
      scope: 'org',
      action: 'member.invite',
      memberships: { orgRole: actor.role },
      settings: { org: orgSettingsOf(actor.org) },
    });
  }

  /** Revoke and resend: `member.invite`, and the invitation's role must be one the actor could give. */
  private async manageable(
    transaction: Transaction,
    actorId: string,
    orgId: string,
    invitationId: string,
  ): Promise<{ actor: OrgContext; invitation: InvitationInstance }> {
    const actor = await this.access.org(orgId, actorId, { transaction, lock: true });
    const decision = this.authorizeInvite(actor);
    const invitation = await this.models.Invitation.findOne({
      where: { id: invitationId, orgId },
      transaction,
      lock: transaction.LOCK.UPDATE,
    });
    if (!invitation) throw errors.notFound('invitation');
    checkGrantedRole({
      scope: 'org',
      actorRole: actor.role,
      actorBypass: decision.bypass,
      role: invitation.role,
    });
    return { actor, invitation };
  }

  private cannot(what: string, state: InvitationState): string {
    if (state === 'PENDING_APPROVAL')
      return `The invitation is waiting for approval; reject or cancel the approval instead of trying to ${what} it.`;
    return `The invitation is ${state}; only a live invitation can be ${what === 'revoke' ? 'revoked' : 'resent'}.`;
  }

  /** Not a member's address and no live invitation for it (other than `exceptId`). */
  private async assertInvitable(
    transaction: Transaction,
    orgId: string,
    email: string,
    exceptId: string | undefined,
  ): Promise<void> {
    // What reads already call EXPIRED is written down first, so it frees the address.
    await expire(
      { sequelize: this.sequelize, outbox: this.outbox },
      transaction,
      'org_id = :orgId AND lower(email) = lower(:email) AND expires_at <= now()',
      {
        orgId,
        email,
      },
    );
    const [member] = await this.sequelize.query<{ id: string }>(
      `SELECT m.user_id AS id FROM org_members m JOIN users u ON u.id = m.user_id AND u.deleted_at IS NULL
        WHERE m.org_id = :orgId AND lower(u.email) = lower(:email) LIMIT 1`,
      { replacements: { orgId, email }, type: QueryTypes.SELECT, transaction },
    );
    if (member) throw errors.conflict(`${email} is already a member of this organization.`);
    const [live] = await this.sequelize.query<{ id: string }>(
      `SELECT id FROM invitations
        WHERE org_id = :orgId AND lower(email) = lower(:email) AND state IN ('PENDING_APPROVAL', 'PENDING')
          AND id <> :exceptId LIMIT 1`,
      {
        replacements: { orgId, email, exceptId: exceptId ?? '00000000-0000-0000-0000-000000000000' },
        type: QueryTypes.SELECT,
        transaction,
      },
    );
    if (live) throw errors.conflict(`${email} already has a live invitation to this organization.`);
  }

  /** A fresh token and 7 days, state PENDING; returns the token (for the mail only). */
  private issue(invitation: InvitationInstance): string {
    const { token, hash } = newToken();
    invitation.set({
      state: 'PENDING',
      tokenHash: hash,
      expiresAt: new Date(Date.now() + INVITATION_TTL_MS),
    });
    return token;
  }

  /** `invitation.created`/`resent` (no token) and the mail request (the token, on governance.mail). */
  private async publishIssued(
    transaction: Transaction,
    actor: OrgContext,
    invitation: InvitationInstance,
    token: string,
    how: 'created' | 'resent',
  ): Promise<void> {
    const orgId = actor.org.id;
    const actorId = actor.member.userId;
    const inviter = await this.models.DirectoryUser.findOne({
      where: { id: actorId, deletedAt: null },
      transaction,
    });
    const expiresAt = (invitation.expiresAt as Date).toISOString();
    const meta = { orgId, actorId, subjectId: invitation.id };
    await this.outbox.add(transaction, [
      governanceEvent(
        how === 'created' ? governanceEvents.invitationCreated : governanceEvents.invitationResent,
        {
          ...meta,
          data: {
            invitationId: invitation.id,
            orgId,
            email: invitation.email,
            role: invitation.role,
            invitedBy: invitation.invitedBy,
            expiresAt,
          },
        },
      ),
      governanceEvent(governanceEvents.invitationMailRequested, {
        ...meta,
        data: {
          invitationId: invitation.id,
          to: invitation.email,
          token,
          orgName: actor.org.name,
          inviterName: inviter?.name ?? 'A Trellis user',
          role: invitation.role,
          expiresAt,
        },
      }),
    ]);
  }
}
