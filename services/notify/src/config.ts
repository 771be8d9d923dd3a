import { z } from 'zod';
import { baseEnvSchema, loadConfig, mongoEnvSchema, serviceUrls } from '@trellis/shared';
import { parseSchedule } from './webhooks/webhook.rules.ts';

const schedule = z.string().transform((text, ctx) => {
  try {
    return parseSchedule(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

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
    /** Notification mails in flight at once per replica (the queue behind the consumers). */
    MAIL_CONCURRENCY: z.coerce.number().int().min(1).max(200).default(16),
    /** Identity's base URL: access tokens are verified against its JWKS (`/api/v1/auth/jwks`). */
    IDENTITY_URL: serviceUrls,
    /** Governance's base URL: the membership fallback (`/internal/orgs/{orgId}/members/{userId}`). */
    GOVERNANCE_URL: serviceUrls,
    /** Work's base URL: the project and task fallback (`/internal/projects/{id}`, `/internal/tasks/{id}`). */
    WORK_URL: serviceUrls,
    /** Collab's base URL: the chat channel fallback (`/internal/channels/{id}`). */
    COLLAB_URL: serviceUrls,
    /** How long a fallback call may take before its breaker counts a failure. */
    FALLBACK_TIMEOUT_MS: z.coerce.number().int().positive().default(1000),
    /** Where links in mails point (the client app or the gateway); invitation links carry `token=`. */
    APP_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:8080'),
    OUTBOX_SWEEP_INTERVAL_MS: z.coerce.number().int().positive().default(2000),
    /** Webhooks may use plain http (the local stack and tests); https only by default. */
    WEBHOOK_ALLOW_HTTP: z.stringbool().default(false),
    /** Webhooks may reach loopback, private and link-local addresses (the local stack and tests). */
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: z.stringbool().default(false),
    /** Delays between a delivery's tries; after the last failure it is FAILED (about a day in all). */
    WEBHOOK_RETRY_SCHEDULE: schedule.default(parseSchedule('5s,30s,2m,10m,1h,3h,6h,12h')),
    /** A 2xx within this long is success. */
    WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
    /** Failed attempts in a row, or hours failing, that disable a webhook. */
    WEBHOOK_DISABLE_AFTER_FAILURES: z.coerce.number().int().min(1).default(50),
    WEBHOOK_DISABLE_AFTER_MS: z.coerce.number().int().min(1000).default(86_400_000),
    /** Attempts in flight per webhook and in all, per replica: a slow receiver cannot take every slot. */
    WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(16),
    WEBHOOK_GLOBAL_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(256),
    /** How long a rotated-out secret keeps signing. */
    WEBHOOK_SECRET_OVERLAP_MS: z.coerce.number().int().min(0).default(86_400_000),
    /** How long the event feed and the delivery log keep entries. */
    EVENT_FEED_RETENTION_DAYS: z.coerce.number().int().min(1).max(365).default(30),
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
