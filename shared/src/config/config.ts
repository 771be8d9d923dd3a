import { isIP } from 'node:net';
import { z } from 'zod';

/** Thrown at start-up when the environment does not satisfy a service's schema. */
export class ConfigError extends Error {
  readonly issues: string[];
  constructor(issues: string[]) {
    super(`Invalid configuration:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** A comma-separated setting as its entries, trimmed, empty ones dropped. */
export const commaSeparated = (value: string): string[] =>
  value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);

const commaList = z.string().min(1).transform(commaSeparated);

/**
 * The base URLs of another service: one (a Kubernetes Service, a load balancer) or a comma list of
 * its replicas (the local stack at `--replicas=N`), each http(s).
 */
export const serviceUrls = z
  .string()
  .transform(commaSeparated)
  .pipe(z.array(z.url({ protocol: /^https?$/ })).min(1, 'at least one URL'));

/** Settings every service reads. */
export const baseEnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * The address the HTTP server listens on. Loopback by default, so a service started on a
   * workstation is not reachable from the network; containers set 0.0.0.0 (or `::`) so that other
   * pods and the gateway can connect.
   */
  HOST: z
    .string()
    .refine((host) => isIP(host) !== 0, 'must be an IP address (0.0.0.0 or :: for every interface)')
    .default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535),
  KAFKA_BROKERS: commaList,
  /** Prefixes every topic name; lets test runs and shared clusters stay apart. */
  KAFKA_TOPIC_PREFIX: z.string().default(''),
  /** Partitions of the topics a service creates: the most replicas of a consumer group that get work. */
  KAFKA_TOPIC_PARTITIONS: z.coerce.number().int().min(1).max(1_000).default(12),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /**
   * On SIGTERM, how long the service goes on serving while `/health/ready` answers 503, so the
   * gateway (or Kubernetes' endpoints) stops sending it requests before it closes its port. 0 with
   * one replica; more than the gateway's UPSTREAM_HEALTH_INTERVAL_MS with several.
   */
  SHUTDOWN_DRAIN_MS: z.coerce.number().int().min(0).default(0),
});

export const postgresEnvSchema = z.object({
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }),
});

export const mongoEnvSchema = z.object({
  MONGO_URL: z.url({ protocol: /^mongodb(\+srv)?$/ }),
});

/**
 * Parses the environment once, at start-up. The only place a service reads process.env.
 * Fails fast with every problem listed, never with a half-valid config.
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => `${issue.path.join('.') || '(env)'}: ${issue.message}`),
    );
  }
  return result.data;
}
