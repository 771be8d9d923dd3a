import { z } from 'zod';
import { baseEnvSchema, loadConfig, postgresEnvSchema } from '@trellis/shared';

/**
 * Development-only default for CODE_SECRET, so `npm start` works with no setup. It is public
 * (it is in the repository), hence refused in production.
 */
export const DEV_CODE_SECRET = 'trellis-dev-code-secret-do-not-use-in-production';
/** Development-only default for KEY_ENCRYPTION_SECRET, refused in production for the same reason. */
export const DEV_KEY_ENCRYPTION_SECRET = 'trellis-dev-key-encryption-secret-not-for-production';

export const configSchema = baseEnvSchema
  .extend({
    ...postgresEnvSchema.shape,
    PORT: z.coerce.number().int().min(0).max(65535).default(8081),
    /** HMAC key for one-time codes (reset, e-mail verification): the database only holds MACs. */
    CODE_SECRET: z.string().min(32).optional(),
    /** Passphrase that encrypts the signing keys' private halves at rest (AES-256 PKCS#8). */
    KEY_ENCRYPTION_SECRET: z.string().min(32).optional(),
    /** A signing key older than this is replaced (checked at start and hourly). */
    KEY_ROTATION_DAYS: z.coerce.number().positive().default(30),
    /** Failed logins allowed per e-mail from one client address within the window before 429. */
    LOGIN_MAX_FAILURES: z.coerce.number().int().positive().default(10),
    /** Failed logins allowed per client address (any e-mails) within the window before 429. */
    LOGIN_MAX_FAILURES_PER_IP: z.coerce.number().int().positive().default(100),
    LOGIN_WINDOW_SECONDS: z.coerce.number().int().positive().default(900),
    /** Failed logins per e-mail (all addresses) in the window after which unfamiliar addresses back off. */
    LOGIN_ACCOUNT_BACKOFF_AFTER: z.coerce.number().int().positive().default(20),
    /** The longest of those backoffs (they double from 1 s). */
    LOGIN_ACCOUNT_BACKOFF_MAX_SECONDS: z.coerce.number().int().positive().default(60),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV !== 'production') return;
    for (const name of ['CODE_SECRET', 'KEY_ENCRYPTION_SECRET'] as const) {
      if (!env[name]) ctx.addIssue({ code: 'custom', path: [name], message: 'Required in production' });
    }
  })
  .transform((env) => ({
    ...env,
    CODE_SECRET: env.CODE_SECRET ?? DEV_CODE_SECRET,
    KEY_ENCRYPTION_SECRET: env.KEY_ENCRYPTION_SECRET ?? DEV_KEY_ENCRYPTION_SECRET,
  }));

export type Config = z.infer<typeof configSchema>;

/** The only place identity reads the environment. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig(configSchema, env);
}
