import type { Migration } from '@trellis/shared';

/**
 * Invitations and approvals (product.md §5). An invitation's token is stored only as its SHA-256;
 * EXPIRED is also computed on read (`expires_at` passed while PENDING) and written by the hourly
 * sweep, so no TTL index deletes anything. One live invitation per org and address, one pending
 * join request per org and user.
 */
export const invitationsApprovalsMigration: Migration = {
  name: '0003-invitations-approvals',
  up: async ({ sequelize }) => {
    await sequelize.query(`
      CREATE TABLE approvals (
        id           uuid PRIMARY KEY,
        org_id       uuid NOT NULL REFERENCES orgs (id),
        kind         text NOT NULL CHECK (kind IN ('invitation.send', 'member.updateRole', 'member.remove',
                       'team.create', 'project.create', 'membership.join')),
        state        text NOT NULL CHECK (state IN ('PENDING', 'APPROVED', 'REJECTED', 'CANCELLED', 'FAILED')),
        requested_by uuid NOT NULL,
        payload      jsonb NOT NULL,
        decided_by   uuid,
        decision     text CHECK (decision IN ('APPROVED', 'REJECTED')),
        -- The approver's comment, the rejecter's reason, or why the approved action failed.
        reason       text,
        decided_at   timestamptz,
        created_at   timestamptz NOT NULL DEFAULT now(),
        updated_at   timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX approvals_org_page ON approvals (org_id, created_at, id);
      CREATE INDEX approvals_requester ON approvals (org_id, requested_by, created_at, id);
      CREATE UNIQUE INDEX approvals_one_join_request ON approvals (org_id, requested_by)
        WHERE kind = 'membership.join' AND state = 'PENDING';

      CREATE TABLE invitations (
        id          uuid PRIMARY KEY,
        org_id      uuid NOT NULL REFERENCES orgs (id),
        email       text NOT NULL,
        role        text NOT NULL CHECK (role IN ('ADMIN', 'MANAGER', 'MEMBER', 'VIEWER')),
        state       text NOT NULL CHECK (state IN ('PENDING_APPROVAL', 'PENDING', 'ACCEPTED', 'DECLINED',
                      'REVOKED', 'EXPIRED')),
        -- SHA-256 (hex) of the single-use token; null until issued (awaiting approval).
        token_hash  text UNIQUE,
        expires_at  timestamptz,
        invited_by  uuid NOT NULL,
        approval_id uuid REFERENCES approvals (id),
        accepted_by uuid,
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        CHECK (state <> 'PENDING' OR (token_hash IS NOT NULL AND expires_at IS NOT NULL))
      );
      CREATE INDEX invitations_org_page ON invitations (org_id, created_at, id);
      CREATE INDEX invitations_email ON invitations (lower(email)) WHERE state = 'PENDING';
      CREATE INDEX invitations_due ON invitations (expires_at) WHERE state = 'PENDING';
      CREATE UNIQUE INDEX invitations_one_live ON invitations (org_id, lower(email))
        WHERE state IN ('PENDING_APPROVAL', 'PENDING');
    `);
  },
};
