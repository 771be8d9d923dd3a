import { z } from 'zod';
import { baseEnvSchema, loadConfig, mongoEnvSchema, serviceUrls } from '@trellis/shared';

export const configSchema = baseEnvSchema.extend({
  ...mongoEnvSchema.shape,
  PORT: z.coerce.number().int().min(0).max(65535).default(8084),
  /** Identity's base URL: access tokens are verified against its JWKS (`/api/v1/auth/jwks`). */
  IDENTITY_URL: serviceUrls,
  /** Governance's base URL: the membership fallback (`/internal/orgs/{orgId}/members/{userId}`). */
  GOVERNANCE_URL: serviceUrls,
  /** Work's base URL: the project and task fallbacks (`/internal/projects/{id}`, `/internal/tasks/{id}`). */
  WORK_URL: serviceUrls,
  /** How long one fallback call may take before its breaker counts a failure. */
  GOVERNANCE_TIMEOUT_MS: z.coerce.number().int().positive().default(1000),
  WORK_TIMEOUT_MS: z.coerce.number().int().positive().default(1000),
  /** How often the outbox relay sweeps for events a crashed process left unpublished. */
  OUTBOX_SWEEP_INTERVAL_MS: z.coerce.number().int().positive().default(2000),
});

export type Config = z.infer<typeof configSchema>;

/** The only place collab reads the environment. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig(configSchema, env);
}
