import { z } from 'zod';
import { baseEnvSchema, loadConfig, postgresEnvSchema } from '@trellis/shared';

export const configSchema = baseEnvSchema.extend({
  ...postgresEnvSchema.shape,
  PORT: z.coerce.number().int().min(0).max(65535).default(8083),
});

export type Config = z.infer<typeof configSchema>;

/** The only place work reads the environment. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig(configSchema, env);
}
