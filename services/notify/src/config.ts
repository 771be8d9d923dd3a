import { z } from 'zod';
import { baseEnvSchema, loadConfig, mongoEnvSchema } from '@trellis/shared';

export const configSchema = baseEnvSchema.extend({
  ...mongoEnvSchema.shape,
  PORT: z.coerce.number().int().min(0).max(65535).default(8085),
  SMTP_HOST: z.string().min(1).default('127.0.0.1'),
  SMTP_PORT: z.coerce.number().int().min(1).max(65535).default(1025),
});

export type Config = z.infer<typeof configSchema>;

/** The only place notify reads the environment. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig(configSchema, env);
}
