import { z } from 'zod';
import {
  addressMatcher,
  baseEnvSchema,
  commaSeparated,
  loadConfig,
  postgresEnvSchema,
  serviceUrls,
} from '@trellis/shared';

const positiveInt = z.coerce.number().int().positive();

/** A comma list of IPs, CIDRs and `loopback`/`linklocal`/`uniquelocal`, each entry checked. */
const addressList = z
  .string()
  .default('')
  .transform(commaSeparated)
  .superRefine((entries, ctx) => {
    for (const entry of entries) {
      try {
        addressMatcher([entry]);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
      }
    }
  });

export const configSchema = baseEnvSchema.extend({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  /** `GET /metrics` is served on this port (on HOST), never on the public PORT; 0 picks a free one. */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  /** Each upstream's targets: one URL (a Kubernetes Service) or a comma list of its replicas. */
  IDENTITY_URL: serviceUrls,
  GOVERNANCE_URL: serviceUrls,
  WORK_URL: serviceUrls,
  COLLAB_URL: serviceUrls,
  NOTIFY_URL: serviceUrls,
  /** How often every target's `/health/ready` is asked; one not ready is out of rotation until it is. */
  UPSTREAM_HEALTH_INTERVAL_MS: positiveInt.default(1_000),
  /** An upstream that has not answered by then gets a 504 UPSTREAM_TIMEOUT. */
  PROXY_TIMEOUT_MS: positiveInt.default(10_000),
  HEALTH_TIMEOUT_MS: positiveInt.default(1_000),
  /** Requests declaring a larger body are refused with 413 before reaching a service. */
  BODY_LIMIT_BYTES: positiveInt.default(1_048_576),
  /** Requests per minute per authenticated user, and per IP for anonymous calls. */
  RATE_LIMIT_PER_USER: positiveInt.default(600),
  RATE_LIMIT_PER_IP: positiveInt.default(300),
  /**
   * Where the rate-limit counters live: `memory` (this process: right for one replica) or `postgres`
   * (one count per caller for every replica; README, "Rate limits across replicas").
   */
  RATE_LIMIT_STORE: z.enum(['memory', 'postgres']).default('memory'),
  /** The gateway's own database (its `rate_limit` table): required with RATE_LIMIT_STORE=postgres. */
  DATABASE_URL: postgresEnvSchema.shape.DATABASE_URL.optional(),
  /** Comma list of allowed browser origins; `*` allows any (tokens travel in headers, not cookies). */
  CORS_ORIGINS: z.string().default('*'),
  /** Breaker: opens when this % of at least BREAKER_VOLUME recent calls failed; half-opens after the reset. */
  BREAKER_ERROR_PERCENT: positiveInt.max(100).default(50),
  BREAKER_VOLUME: positiveInt.default(10),
  BREAKER_RESET_MS: positiveInt.default(5_000),
  /**
   * Failures one caller (user, or IP when anonymous) may add to an upstream's breaker per minute;
   * beyond it their calls are still answered but no longer seen by the breaker.
   */
  BREAKER_FAILURES_PER_CALLER: positiveInt.default(5),
  /**
   * Proxies in front of the gateway whose `X-Forwarded-For` decides the client address (rate limits,
   * identity's login throttle). Empty: the gateway is the edge and a forwarding header changes nothing.
   */
  TRUSTED_PROXIES: addressList,
});

export type Config = z.infer<typeof configSchema>;

/**
 * What one setting alone cannot say: a shared rate-limit store needs its database. Checked even when
 * other settings are wrong too (`when`), so one start-up lists every problem.
 */
const startupSchema = configSchema.refine(
  (config) => config.RATE_LIMIT_STORE !== 'postgres' || config.DATABASE_URL !== undefined,
  { path: ['DATABASE_URL'], message: 'required when RATE_LIMIT_STORE=postgres', when: () => true },
);

/** The only place the gateway reads the environment. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig(startupSchema, env);
}
