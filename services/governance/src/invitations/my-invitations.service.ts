// The invitee's side of invitations: their live invitations, accepting or declining one by its token.
import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import { AppError, errors, governanceEvents, type OrgRole, type Page, type PgOutbox } from '@trellis/shared';
import { governanceEvent } from '../events/outgoing.ts';
import { afterCursor, keysetPage } from '../keyset.ts';
import type { MemberService } from '../members/members.service.ts';
import type { Models } from '../models.ts';
import { effectiveState, type InvitationInstance, type InvitationState } from './invitations.model.ts';
import type { MyInvitationView } from './invitations.schemas.ts';
import { hashToken } from './invitations.tokens.ts';
import { rowView, type InvitationRow } from './invitations.views.ts';

/** The signed-in caller, with the e-mail their access token carries. */
export interface Invitee {
  id: string;
  email: string;
}

const sameAddress = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();

/** Why a token cannot be used any more, for a clear 409. */
const DEAD: Partial<Record<InvitationState, string>> = {
  PENDING_APPROVAL: 'This invitation is still waiting for approval.',
  ACCEPTED: 'This invitation has already been accepted.',
  DECLINED: 'This invitation has been declined.',
  REVOKED: 'This invitation has been revoked.',
  EXPIRED: 'This invitation has expired; ask for a new one.',
};

/**
 * The addressee of an invitation (product.md §5), signed in: the live invitations sent to their
 * e-mail, and accepting or declining one with the token from the mail.
 */
export class MyInvitationService {
  private readonly sequelize: Sequelize;
  private readonly models: Models;
  private readonly outbox: PgOutbox;
  private readonly members: MemberService;

  constructor(deps: { sequelize: Sequelize; models: Models; outbox: PgOutbox; members: MemberService }) {
    this.sequelize = deps.sequelize;
    this.models = deps.models;
    this.outbox = deps.outbox;
    this.members = deps.members;
  }

  /** Live invitations addressed to the caller's e-mail (case-insensitive), in live orgs. */
  async mine(
    user: Invitee,
    page: { limit: number; cursor?: string | undefined },
  ): Promise<Page<MyInvitationView>> {
    const keyset = afterCursor(page.cursor, 'i.created_at', 'i.id');
    const rows = await this.sequelize.query<InvitationRow>(
      `SELECT i.id, i.created_at::text AS at, i.org_id, o.name AS org_name, i.email, i.role, i.state,
              i.expires_at, i.invited_by, i.created_at
         FROM invitations i JOIN orgs o ON o.id = i.org_id AND o.deleted_at IS NULL
        WHERE lower(i.email) = lower(:email) AND i.state = 'PENDING' AND i.expires_at > now()
          AND ${keyset.condition}
        ORDER BY i.created_at, i.id
        LIMIT :take`,
      {
        replacements: { email: user.email.trim(), take: page.limit + 1, ...keyset.replacements },
        type: QueryTypes.SELECT,
      },
    );
    return keysetPage(rows, page.limit, (row) => ({ ...rowView(row), orgName: row.org_name ?? '' }));
  }

  /**
   * The addressee, signed in, with the token: becomes a member with the invited role (the member
   * limit is checked now). Unknown token (or one replaced by a resend) → 404; someone else's → 403;
   * expired, revoked, declined, already used → 409 saying which.
   */
  async accept(user: Invitee, token: string): Promise<{ orgId: string; role: OrgRole }> {
    return this.sequelize.transaction(async (transaction) => {
      const invitation = await this.byToken(transaction, user, token);
      const { orgId, role } = invitation;
      await this.members.add(transaction, { orgId, userId: user.id, role, actorId: user.id });
      await invitation.update({ state: 'ACCEPTED', acceptedBy: user.id }, { transaction });
      await this.outbox.add(
        transaction,
        governanceEvent(governanceEvents.invitationAccepted, {
          orgId,
          actorId: user.id,
          subjectId: invitation.id,
          data: { invitationId: invitation.id, orgId, email: invitation.email, role, userId: user.id },
        }),
      );
      return { orgId, role };
    });
  }

  /** The addressee turns it down (same token and e-mail rules as accepting). */
  async decline(user: Invitee, token: string): Promise<void> {
    await this.sequelize.transaction(async (transaction) => {
      const invitation = await this.byToken(transaction, user, token);
      await invitation.update({ state: 'DECLINED' }, { transaction });
      await this.outbox.add(
        transaction,
        governanceEvent(governanceEvents.invitationDeclined, {
          orgId: invitation.orgId,
          actorId: user.id,
          subjectId: invitation.id,
          data: {
            invitationId: invitation.id,
            orgId: invitation.orgId,
            email: invitation.email,
            userId: user.id,
          },
        }),
      );
    });
  }

  /**
   * The invitation a token names, locked, after the org row (every write in an org serialises on
   * it). Checked in an order that tells a stranger holding the token nothing about its state.
   */
  private async byToken(transaction: Transaction, user: Invitee, token: string): Promise<InvitationInstance> {
    const hash = hashToken(token);
    const found = await this.models.Invitation.findOne({ where: { tokenHash: hash }, transaction });
    if (!found) throw errors.notFound('invitation');
    const org = await this.models.Org.findByPk(found.orgId, { transaction, lock: transaction.LOCK.UPDATE });
    const invitation = org
      ? await this.models.Invitation.findOne({
          where: { id: found.id, tokenHash: hash },
          transaction,
          lock: transaction.LOCK.UPDATE,
        })
      : null;
    if (!invitation) throw errors.notFound('invitation');
    if (!sameAddress(invitation.email, user.email))
      throw errors.forbidden(
        'This invitation is addressed to another e-mail address; sign in with that one.',
      );
    const state = effectiveState(invitation);
    if (state !== 'PENDING')
      throw new AppError(409, 'CONFLICT', { detail: DEAD[state], extensions: { state } });
    return invitation;
  }
}
