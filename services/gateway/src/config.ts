import { z } from 'zod';
import { addressMatcher, baseEnvSchema, commaSeparated, loadConfig } from '@trellis/shared';

const upstreamUrl = z.url({ protocol: /^https?$/ });
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
  IDENTITY_URL: upstreamUrl,
  GOVERNANCE_URL: upstreamUrl,
  WORK_URL: upstreamUrl,
  COLLAB_URL: upstreamUrl,
  NOTIFY_URL: upstreamUrl,
  /** An upstream that has not answered by then gets a 504 UPSTREAM_TIMEOUT. */
  PROXY_TIMEOUT_MS: positiveInt.default(10_000),
  HEALTH_TIMEOUT_MS: positiveInt.default(1_000),
  /** Requests declaring a larger body are refused with 413 before reaching a service. */
  BODY_LIMIT_BYTES: positiveInt.default(1_048_576),
  /** Requests per minute per authenticated user, and per IP for anonymous calls. */
  RATE_LIMIT_PER_USER: positiveInt.default(600),
  RATE_LIMIT_PER_IP: positiveInt.default(300),
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

/** The only place the gateway reads the environment. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig(configSchema, env);
}
