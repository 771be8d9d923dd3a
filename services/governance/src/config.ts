import { z } from 'zod';
import { baseEnvSchema, loadConfig, postgresEnvSchema, serviceUrls } from '@trellis/shared';

export const configSchema = baseEnvSchema.extend({
  ...postgresEnvSchema.shape,
  PORT: z.coerce.number().int().min(0).max(65535).default(8082),
  /** Identity's base URL: access tokens are verified against its JWKS (`/api/v1/auth/jwks`). */
  IDENTITY_URL: serviceUrls,
});

export type Config = z.infer<typeof configSchema>;

/** The only place governance reads the environment. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig(configSchema, env);
}
