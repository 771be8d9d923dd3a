// The expiry sweep the process runs hourly: PENDING invitations past their time become EXPIRED.
import type { Sequelize } from 'sequelize';
import type { PgOutbox } from '@trellis/shared';
import { expire, SWEEP_BATCH } from './invitations.expiry.ts';

/** How often `expireDue` runs in the process (reads compute EXPIRED anyway). */
export const INVITATION_SWEEP_MS = 60 * 60 * 1000;

/** Expiry over every org at once (reads already compute EXPIRED; this writes it down). */
export class InvitationSweep {
  private readonly sequelize: Sequelize;
  private readonly outbox: PgOutbox;

  constructor(deps: { sequelize: Sequelize; outbox: PgOutbox }) {
    this.sequelize = deps.sequelize;
    this.outbox = deps.outbox;
  }

  /**
   * The hourly sweep: writes EXPIRED on PENDING invitations whose time has passed (reads already
   * say so) and publishes `invitation.expired`. Batched, and safe with several replicas.
   */
  async expireDue(): Promise<number> {
    let total = 0;
    for (;;) {
      const done = await this.sequelize.transaction((transaction) =>
        expire({ sequelize: this.sequelize, outbox: this.outbox }, transaction, `expires_at <= now()`, {}),
      );
      total += done;
      if (done < SWEEP_BATCH) return total;
    }
  }
}
