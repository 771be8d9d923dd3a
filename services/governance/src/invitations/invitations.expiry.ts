// Writing EXPIRED down on PENDING invitations past their time: the hourly sweep and inviting both do.
import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import { governanceEvents, type PgOutbox } from '@trellis/shared';
import { governanceEvent } from '../events/outgoing.ts';

export const SWEEP_BATCH = 500;

/** PENDING invitations matching `where` (and past due) → EXPIRED, with `invitation.expired`. */
export async function expire(
  db: { sequelize: Sequelize; outbox: PgOutbox },
  transaction: Transaction,
  where: string,
  replacements: Record<string, unknown>,
): Promise<number> {
  const rows = await db.sequelize.query<{
    id: string;
    org_id: string;
    email: string;
    invited_by: string;
  }>(
    `UPDATE invitations SET state = 'EXPIRED', updated_at = now()
        WHERE id IN (SELECT id FROM invitations WHERE state = 'PENDING' AND ${where}
                      ORDER BY expires_at LIMIT ${SWEEP_BATCH} FOR UPDATE SKIP LOCKED)
        RETURNING id, org_id, email, invited_by`,
    { replacements, type: QueryTypes.SELECT, transaction },
  );
  if (rows.length === 0) return 0;
  // Time did this, on the inviter's behalf: the audit log attributes it to them.
  await db.outbox.add(
    transaction,
    rows.map((row) =>
      governanceEvent(governanceEvents.invitationExpired, {
        orgId: row.org_id,
        actorId: row.invited_by,
        subjectId: row.id,
        data: { invitationId: row.id, orgId: row.org_id, email: row.email },
      }),
    ),
  );
  return rows.length;
}
