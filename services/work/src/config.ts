import { z } from 'zod';
import { baseEnvSchema, loadConfig, postgresEnvSchema, serviceUrls } from '@trellis/shared';

export const configSchema = baseEnvSchema.extend({
  ...postgresEnvSchema.shape,
  PORT: z.coerce.number().int().min(0).max(65535).default(8083),
  /** Identity's base URL: access tokens are verified against its JWKS (`/api/v1/auth/jwks`). */
  IDENTITY_URL: serviceUrls,
  /** Governance's base URL: the membership fallback (`/internal/orgs/{orgId}/members/{userId}`). */
  GOVERNANCE_URL: serviceUrls,
  /** How long the membership fallback may take before the breaker counts a failure. */
  GOVERNANCE_TIMEOUT_MS: z.coerce.number().int().positive().default(1000),
  /** How long a read may reuse a project access decision (see access-memo.ts); 0 turns it off. */
  ACCESS_CACHE_TTL_MS: z.coerce.number().int().min(0).max(1000).default(250),
});

export type Config = z.infer<typeof configSchema>;

/** The only place work reads the environment. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig(configSchema, env);
}
