import { z } from 'zod';
import { baseEnvSchema, loadConfig, mongoEnvSchema } from '@trellis/shared';

export const configSchema = baseEnvSchema
  .extend({
    ...mongoEnvSchema.shape,
    PORT: z.coerce.number().int().min(0).max(65535).default(8085),
    SMTP_HOST: z.string().min(1).default('127.0.0.1'),
    SMTP_PORT: z.coerce.number().int().min(1).max(65535).default(1025),
    /** TLS from the first byte (port 465); otherwise STARTTLS is used when the server offers it. */
    SMTP_SECURE: z.stringbool().default(false),
    SMTP_USER: z.string().min(1).optional(),
    SMTP_PASSWORD: z.string().min(1).optional(),
    SMTP_FROM: z.string().min(1).default('Trellis <no-reply@trellis.local>'),
    /** Identity's base URL: access tokens are verified against its JWKS (`/api/v1/auth/jwks`). */
    IDENTITY_URL: z.url(),
    /** Governance's base URL: the membership fallback (`/internal/orgs/{orgId}/members/{userId}`). */
    GOVERNANCE_URL: z.url(),
    /** Work's base URL: the project and task fallback (`/internal/projects/{id}`, `/internal/tasks/{id}`). */
    WORK_URL: z.url(),
    /** Collab's base URL: the chat channel fallback (`/internal/channels/{id}`). */
    COLLAB_URL: z.url(),
    /** How long a fallback call may take before its breaker counts a failure. */
    FALLBACK_TIMEOUT_MS: z.coerce.number().int().positive().default(1000),
    /** Where links in mails point (the client app or the gateway); invitation links carry `token=`. */
    APP_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:8080'),
  })
  .refine((env) => !env.SMTP_USER === !env.SMTP_PASSWORD, {
    message: 'SMTP_USER and SMTP_PASSWORD are set together or not at all',
    path: ['SMTP_PASSWORD'],
  });

export type Config = z.infer<typeof configSchema>;

/** The only place notify reads the environment. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig(configSchema, env);
}
