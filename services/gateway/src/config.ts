import { z } from 'zod';
import { baseEnvSchema, loadConfig } from '@trellis/shared';

const upstreamUrl = z.url({ protocol: /^https?$/ });

export const configSchema = baseEnvSchema.extend({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  IDENTITY_URL: upstreamUrl,
  GOVERNANCE_URL: upstreamUrl,
  WORK_URL: upstreamUrl,
  COLLAB_URL: upstreamUrl,
  NOTIFY_URL: upstreamUrl,
  /** An upstream that has not answered by then gets a 504 UPSTREAM_TIMEOUT. */
  PROXY_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  HEALTH_TIMEOUT_MS: z.coerce.number().int().positive().default(1_000),
});

export type Config = z.infer<typeof configSchema>;

/** The only place the gateway reads the environment. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig(configSchema, env);
}
