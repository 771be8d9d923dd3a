import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import { errors } from '@trellis/shared';

/** How long an address an account signed in from stays familiar (as long as a refresh token lives). */
const KNOWN_ADDRESS_DAYS = 30;
/** 2^16 s is far past any sensible cap: the exponent stops there so the arithmetic cannot overflow. */
const MAX_BACKOFF_EXPONENT = 16;

export interface LoginThrottleSettings {
  /** Failures of one e-mail from one client address before that pair waits out the window. */
  maxPerAddress: number;
  /** Failures from one client address (any e-mails) before the address waits out the window. */
  maxPerIp: number;
  windowSeconds: number;
  /** Failures of one e-mail from all addresses before attempts from unfamiliar ones back off. */
  backoffAfter: number;
  /** The longest such backoff. */
  backoffMaxSeconds: number;
}

/** One login attempt: the e-mail as typed (lower-cased), the client address, the account if any. */
export interface LoginAttempt {
  email: string;
  /** `clientAddress(req.ip)`. */
  address: string;
  userId?: string | undefined;
}

interface CounterRow {
  key: string;
  failures: number;
  /** Seconds until the counter's window ends. */
  windowLeft: number;
  /** Seconds since its last counted attempt. */
  sinceLast: number;
}

/**
 * Failed logins, counted in PostgreSQL (`login_failures`, one row per key) so every replica sees
 * the same numbers. An attempt is counted *before* the password is checked, in one transaction
 * with the check (rows locked), so parallel guesses cannot all pass between a check and its count;
 * a success takes its count back. Three counters per attempt (README "Throttling"):
 *
 * - `email-ip:<address> <email>` — `maxPerAddress` failures, then that address waits for the
 *   window to end. Only that pair: wrong passwords from one address never stop the owner
 *   signing in from another.
 * - `ip:<address>` — `maxPerIp` failures over any e-mails, then the address waits (many people
 *   share an address behind a NAT, hence the larger budget).
 * - `email:<email>` — all addresses together. Past `backoffAfter` failures, an attempt from an
 *   address the account has not signed in from waits 2^(failures − backoffAfter) s (at most
 *   `backoffMaxSeconds`) after the last one counted: distributed guessing slows to one guess per
 *   backoff, while the owner waits not at all from a familiar address, and seconds (never a
 *   lockout) from a new one.
 */
export class LoginThrottle {
  private readonly sequelize: Sequelize;
  private readonly settings: LoginThrottleSettings;

  constructor(deps: { sequelize: Sequelize } & LoginThrottleSettings) {
    const { sequelize, ...settings } = deps;
    this.sequelize = sequelize;
    this.settings = settings;
  }

  /** Counts the attempt, or answers 429 with Retry-After (the longest wait) without counting it. */
  async claimLogin(attempt: LoginAttempt): Promise<void> {
    const { maxPerAddress, maxPerIp, backoffAfter, backoffMaxSeconds } = this.settings;
    const keys = loginKeys(attempt);
    await this.claim(Object.values(keys), async (rows, transaction) => {
      const waits: number[] = [];
      const pair = rows.get(keys.pair);
      const ip = rows.get(keys.ip);
      const account = rows.get(keys.account);
      if (pair && pair.failures >= maxPerAddress) waits.push(pair.windowLeft);
      if (ip && ip.failures >= maxPerIp) waits.push(ip.windowLeft);
      if (account && account.failures >= backoffAfter) {
        const exponent = Math.min(account.failures - backoffAfter, MAX_BACKOFF_EXPONENT);
        const wait = Math.min(2 ** exponent, backoffMaxSeconds) - account.sinceLast;
        if (wait > 0 && !(await this.isKnown(transaction, attempt))) waits.push(wait);
      }
      return waits;
    });
  }

  /**
   * In the transaction that starts the session: the attempt was no failure after all. The pair's
   * counter is cleared, the address's and the account's counts are taken back (not cleared: one
   * good password must not unlock an address, nor wipe out guesses made elsewhere), and the address
   * becomes familiar to the account.
   */
  async loginSucceeded(transaction: Transaction, attempt: LoginAttempt & { userId: string }): Promise<void> {
    const keys = loginKeys(attempt);
    // Rows locked in key order, as a claim locks them: the two cannot deadlock.
    await this.sequelize.query(
      `UPDATE login_failures AS f
          SET failures = CASE WHEN f.key = :pair THEN 0 ELSE greatest(f.failures - 1, 0) END
         FROM (SELECT key FROM login_failures WHERE key IN (:keys) ORDER BY key FOR UPDATE) AS locked
        WHERE f.key = locked.key`,
      { replacements: { pair: keys.pair, keys: Object.values(keys) }, transaction },
    );
    await this.sequelize.query(
      `INSERT INTO login_known_addresses (user_id, address, last_login_at) VALUES (:userId, :address, now())
       ON CONFLICT (user_id, address) DO UPDATE SET last_login_at = now()`,
      { replacements: { userId: attempt.userId, address: attempt.address }, transaction },
    );
  }

  /** Wrong current passwords count per account (a stolen access token must not guess freely). */
  async claimPasswordChange(userId: string): Promise<void> {
    const key = passwordChangeKey(userId);
    await this.claim([key], async (rows) => {
      const row = rows.get(key);
      return row && row.failures >= this.settings.maxPerAddress ? [row.windowLeft] : [];
    });
  }

  async passwordChangeSucceeded(transaction: Transaction, userId: string): Promise<void> {
    await this.sequelize.query('DELETE FROM login_failures WHERE key = :key', {
      replacements: { key: passwordChangeKey(userId) },
      transaction,
    });
  }

  /** Drops counters whose window has passed and addresses not signed in from for a while. */
  async sweep(): Promise<void> {
    await this.sequelize.query(
      'DELETE FROM login_failures WHERE window_start <= now() - make_interval(secs => :window)',
      { replacements: { window: this.settings.windowSeconds } },
    );
    await this.sequelize.query(
      'DELETE FROM login_known_addresses WHERE last_login_at <= now() - make_interval(days => :days)',
      { replacements: { days: KNOWN_ADDRESS_DAYS } },
    );
  }

  /**
   * One transaction: the counters are locked (created, or restarted when their window has passed),
   * `waits` decides from them, and the attempt is counted on all of them unless something makes it
   * wait — then 429, counted nowhere. Keys are locked in one order, so two claims cannot deadlock.
   */
  private async claim(
    keys: string[],
    waits: (rows: Map<string, CounterRow>, transaction: Transaction) => Promise<number[]>,
  ): Promise<void> {
    const retryAfter = await this.sequelize.transaction(async (transaction) => {
      const rows = await this.sequelize.query<CounterRow>(
        `INSERT INTO login_failures AS f (key, failures, window_start, last_failure_at)
         SELECT key, 0, now(), now() FROM unnest(ARRAY[:keys]::text[]) AS key ORDER BY key
         ON CONFLICT (key) DO UPDATE SET
           failures = CASE WHEN f.window_start <= now() - make_interval(secs => :window)
                           THEN 0 ELSE f.failures END,
           window_start = CASE WHEN f.window_start <= now() - make_interval(secs => :window)
                               THEN now() ELSE f.window_start END
         RETURNING key, failures,
           extract(epoch FROM window_start + make_interval(secs => :window) - now())::float AS "windowLeft",
           extract(epoch FROM now() - last_failure_at)::float AS "sinceLast"`,
        {
          replacements: { keys, window: this.settings.windowSeconds },
          type: QueryTypes.SELECT,
          transaction,
        },
      );
      const longest = Math.max(0, ...(await waits(new Map(rows.map((row) => [row.key, row])), transaction)));
      if (longest > 0) return Math.max(1, Math.ceil(longest));
      await this.sequelize.query(
        'UPDATE login_failures SET failures = failures + 1, last_failure_at = now() WHERE key IN (:keys)',
        { replacements: { keys }, transaction },
      );
      return 0;
    });
    if (retryAfter > 0) throw errors.rateLimited(retryAfter);
  }

  private async isKnown(transaction: Transaction, attempt: LoginAttempt): Promise<boolean> {
    if (!attempt.userId) return false;
    const [row] = await this.sequelize.query(
      `SELECT 1 FROM login_known_addresses
        WHERE user_id = :userId AND address = :address
          AND last_login_at > now() - make_interval(days => :days)`,
      {
        replacements: { userId: attempt.userId, address: attempt.address, days: KNOWN_ADDRESS_DAYS },
        type: QueryTypes.SELECT,
        transaction,
      },
    );
    return row !== undefined;
  }
}

/** An address has no spaces, so `<address> <email>` names one pair only. */
function loginKeys(attempt: LoginAttempt) {
  return {
    pair: `email-ip:${attempt.address} ${attempt.email}`,
    ip: `ip:${attempt.address}`,
    account: `email:${attempt.email}`,
  };
}

function passwordChangeKey(userId: string): string {
  return `password-change:${userId}`;
}
