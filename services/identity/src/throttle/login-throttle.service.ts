import { QueryTypes, type Sequelize } from 'sequelize';
import { errors } from '@trellis/shared';

/**
 * Counts failed logins per key (`email:…`, `ip:…`) in a fixed window that starts with the first
 * failure. Counters live in PostgreSQL so every replica sees the same numbers. An IP gets a larger
 * budget than an e-mail: many people share one address behind a NAT or a proxy.
 */
export class LoginThrottle {
  private readonly sequelize: Sequelize;
  private readonly maxPerEmail: number;
  private readonly maxPerIp: number;
  private readonly windowSeconds: number;

  constructor(deps: { sequelize: Sequelize; maxPerEmail: number; maxPerIp: number; windowSeconds: number }) {
    this.sequelize = deps.sequelize;
    this.maxPerEmail = deps.maxPerEmail;
    this.maxPerIp = deps.maxPerIp;
    this.windowSeconds = deps.windowSeconds;
  }

  static keys(email: string, ip: string | undefined): string[] {
    return [`email:${email}`, `ip:${ip ?? 'unknown'}`];
  }

  /** 429 with Retry-After (the longest wait) when any key has used up its failures. */
  async assertAllowed(keys: string[]): Promise<void> {
    const [blocked] = await this.sequelize.query<{ remaining: number }>(
      `SELECT max(extract(epoch FROM window_start + make_interval(secs => :window) - now()))::float AS remaining
         FROM login_failures
        WHERE key IN (:keys)
          AND failures >= CASE WHEN key LIKE 'ip:%' THEN :maxPerIp ELSE :maxPerEmail END
          AND window_start > now() - make_interval(secs => :window)`,
      {
        replacements: {
          keys,
          maxPerEmail: this.maxPerEmail,
          maxPerIp: this.maxPerIp,
          window: this.windowSeconds,
        },
        type: QueryTypes.SELECT,
      },
    );
    if (blocked?.remaining != null) throw errors.rateLimited(Math.max(1, Math.ceil(blocked.remaining)));
  }

  async recordFailure(keys: string[]): Promise<void> {
    await this.sequelize.query(
      `INSERT INTO login_failures (key, failures, window_start)
       SELECT unnest(ARRAY[:keys]::text[]), 1, now()
       ON CONFLICT (key) DO UPDATE SET
         failures = CASE WHEN login_failures.window_start <= now() - make_interval(secs => :window)
                         THEN 1 ELSE login_failures.failures + 1 END,
         window_start = CASE WHEN login_failures.window_start <= now() - make_interval(secs => :window)
                             THEN now() ELSE login_failures.window_start END`,
      { replacements: { keys, window: this.windowSeconds } },
    );
  }

  /** A successful login clears its e-mail's counter (never the IP's: one good account must not unlock an IP). */
  async clear(key: string): Promise<void> {
    await this.sequelize.query('DELETE FROM login_failures WHERE key = :key', { replacements: { key } });
  }

  /** Drops counters whose window has passed (housekeeping). */
  async sweep(): Promise<void> {
    await this.sequelize.query(
      'DELETE FROM login_failures WHERE window_start <= now() - make_interval(secs => :window)',
      { replacements: { window: this.windowSeconds } },
    );
  }
}
