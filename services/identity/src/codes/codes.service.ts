import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import type { Transaction } from 'sequelize';
import type { Models } from '../models.ts';
import type { CodePurpose } from './codes.model.ts';

const CODE_TTL_MS = 10 * 60_000;
export const MAX_CODE_ATTEMPTS = 5;
/** A new code for the same purpose is issued at most this often; the last mail's code stays good. */
export const CODE_REISSUE_INTERVAL_MS = 60_000;

/**
 * Six-digit one-time codes sent by e-mail (password reset, e-mail verification). Only an HMAC is
 * stored, bound to the user and purpose; a code lives 10 minutes and survives 5 wrong guesses.
 */
export class CodeService {
  private readonly OneTimeCode: Models['OneTimeCode'];
  private readonly secret: string;

  constructor(deps: { models: Models; secret: string }) {
    this.OneTimeCode = deps.models.OneTimeCode;
    this.secret = deps.secret;
  }

  /**
   * Issues a fresh code, replacing the live one for the same purpose, and returns it for the mail —
   * or null when the live one must stand: it was issued less than a minute ago, or it is locked
   * after 5 wrong guesses (asking again must not buy fresh guesses: that would make the 6 digits
   * brute-forceable). Either way the caller answers as if a mail went out.
   */
  async issue(transaction: Transaction, userId: string, purpose: CodePurpose): Promise<string | null> {
    const live = await this.OneTimeCode.findOne({
      where: { userId, purpose },
      lock: transaction.LOCK.UPDATE,
      transaction,
    });
    const now = Date.now();
    if (live && live.expiresAt.getTime() > now) {
      const locked = live.attempts >= MAX_CODE_ATTEMPTS;
      if (locked || now - live.createdAt.getTime() < CODE_REISSUE_INTERVAL_MS) return null;
    }
    const code = randomInt(0, 1_000_000).toString().padStart(6, '0');
    await this.OneTimeCode.upsert(
      {
        userId,
        purpose,
        codeMac: this.mac(userId, purpose, code),
        expiresAt: new Date(Date.now() + CODE_TTL_MS),
        attempts: 0,
        createdAt: new Date(),
      },
      { transaction },
    );
    return code;
  }

  /**
   * Checks a code. A match consumes it; a miss counts an attempt, and once the attempts are used
   * up even the right code is refused. The caller commits either way (attempts must stick).
   */
  async redeem(
    transaction: Transaction,
    userId: string,
    purpose: CodePurpose,
    code: string,
  ): Promise<boolean> {
    const row = await this.OneTimeCode.findOne({
      where: { userId, purpose },
      lock: transaction.LOCK.UPDATE,
      transaction,
    });
    if (!row || row.expiresAt.getTime() <= Date.now() || row.attempts >= MAX_CODE_ATTEMPTS) return false;
    const expected = Buffer.from(row.codeMac, 'base64url');
    const given = Buffer.from(this.mac(userId, purpose, code), 'base64url');
    if (expected.length === given.length && timingSafeEqual(expected, given)) {
      await row.destroy({ transaction });
      return true;
    }
    await row.increment('attempts', { transaction });
    return false;
  }

  /** Drops every code of a user (account deletion). */
  async discardAll(transaction: Transaction, userId: string): Promise<void> {
    await this.OneTimeCode.destroy({ where: { userId }, transaction });
  }

  private mac(userId: string, purpose: CodePurpose, code: string): string {
    return createHmac('sha256', this.secret).update(`${purpose}:${userId}:${code}`).digest('base64url');
  }
}
