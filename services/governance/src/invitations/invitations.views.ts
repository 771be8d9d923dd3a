// How an invitation reads in the API, from its model instance or from a raw SQL row.
import type { OrgRole } from '@trellis/shared';
import { effectiveState, type InvitationInstance, type InvitationState } from './invitations.model.ts';
import type { InvitationView } from './invitations.schemas.ts';

export interface InvitationRow {
  id: string;
  at: string;
  org_id: string;
  org_name?: string;
  email: string;
  role: OrgRole;
  state: InvitationState;
  expires_at: Date | null;
  invited_by: string;
  created_at: Date;
}

export function toInvitationView(invitation: InvitationInstance): InvitationView {
  return {
    id: invitation.id,
    orgId: invitation.orgId,
    email: invitation.email,
    role: invitation.role,
    state: effectiveState(invitation),
    expiresAt: invitation.expiresAt ? invitation.expiresAt.toISOString() : null,
    invitedBy: invitation.invitedBy,
    createdAt: invitation.createdAt.toISOString(),
  };
}

export function rowView(row: InvitationRow): InvitationView {
  return {
    id: row.id,
    orgId: row.org_id,
    email: row.email,
    role: row.role,
    state: row.state,
    expiresAt: row.expires_at ? new Date(row.expires_at).toISOString() : null,
    invitedBy: row.invited_by,
    createdAt: new Date(row.created_at).toISOString(),
  };
}
