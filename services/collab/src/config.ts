import { z } from 'zod';
import { baseEnvSchema, loadConfig, mongoEnvSchema } from '@trellis/shared';

export const configSchema = baseEnvSchema.extend({
  ...mongoEnvSchema.shape,
  PORT: z.coerce.number().int().min(0).max(65535).default(8084),
});

export type Config = z.infer<typeof configSchema>;

/** The only place collab reads the environment. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig(configSchema, env);
}
