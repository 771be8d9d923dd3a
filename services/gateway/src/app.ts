import type { IncomingMessage } from 'node:http';
import type { Express } from 'express';
import cors from 'cors';
import type { Store } from 'express-rate-limit';
import {
  createServiceApp,
  type KeyResolver,
  type Logger,
  type Metrics,
  type ReadinessCheck,
} from '@trellis/shared';
import { requireAccessToken, stripIdentityHeaders } from './auth/gateway-auth.ts';
import type { Config } from './config.ts';
import { apiDocs } from './docs/api-docs.ts';
import { aggregateHealth } from './health/aggregate.ts';
import { apiRateLimit, bodySizeLimit } from './limits/limits.ts';
import { UpstreamBreakers } from './routing/breakers.ts';
import { apiProxy } from './routing/proxy.ts';
import { UpstreamPool } from './routing/targets.ts';
import { UPSTREAMS, type UpstreamUrls } from './routing/upstreams.ts';

export interface AppDeps {
  config: Pick<
    Config,
    | 'PROXY_TIMEOUT_MS'
    | 'HEALTH_TIMEOUT_MS'
    | 'BODY_LIMIT_BYTES'
    | 'RATE_LIMIT_PER_USER'
    | 'RATE_LIMIT_PER_IP'
    | 'CORS_ORIGINS'
    | 'BREAKER_ERROR_PERCENT'
    | 'BREAKER_VOLUME'
    | 'BREAKER_RESET_MS'
    | 'BREAKER_FAILURES_PER_CALLER'
    | 'TRUSTED_PROXIES'
    | 'UPSTREAM_HEALTH_INTERVAL_MS'
  >;
  logger: Logger;
  readiness: ReadinessCheck[];
  upstreams: UpstreamUrls;
  resolveKey: KeyResolver;
  isRevoked: (jti: string) => boolean;
  /** The registry the metrics port serves (with the bus's metrics); new when absent. */
  metrics?: Metrics;
  /** Where the rate limit counts (`openRateLimitStore`); absent: in this process. */
  rateLimitStore?: Store;
}

export interface GatewayApp {
  app: Express;
  breakers: UpstreamBreakers;
  /** Every upstream's targets and which are in rotation; its health checks run until `stop()`. */
  pool: UpstreamPool;
  /** Not served on the public port: `main.ts` serves them on METRICS_PORT. */
  metrics: Metrics;
  /** The client address as `req.ip` decides it, for WebSocket upgrades (which bypass express). */
  clientAddress: (req: IncomingMessage) => string | undefined;
}

function corsOrigins(setting: string): string[] | '*' {
  const origins = setting
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  return origins.includes('*') ? '*' : origins;
}

/**
 * The gateway: request ids → CORS → identity headers stripped → body size → token check →
 * rate limit → per-upstream breaker → proxy. No JSON body parser: bodies stream through.
 */
export function buildApp(deps: AppDeps): GatewayApp {
  const { config, logger } = deps;
  const { app, metrics, finish, clientAddress } = createServiceApp({
    service: 'gateway',
    logger,
    readiness: deps.readiness,
    jsonBody: false,
    metrics: deps.metrics,
    // The public port: `GET /metrics` is a 404 here (architecture.md §8).
    metricsEndpoint: false,
    // The edge: only the proxies in front of it may tell it who the client is (README, "Client address").
    trustProxy: { addresses: config.TRUSTED_PROXIES },
  });
  const pool = new UpstreamPool(
    deps.upstreams,
    { healthIntervalMs: config.UPSTREAM_HEALTH_INTERVAL_MS, healthTimeoutMs: config.HEALTH_TIMEOUT_MS },
    logger,
    metrics.registry,
  );
  pool.start();
  const breakers = new UpstreamBreakers(
    {
      errorPercent: config.BREAKER_ERROR_PERCENT,
      volume: config.BREAKER_VOLUME,
      resetMs: config.BREAKER_RESET_MS,
      failuresPerCaller: config.BREAKER_FAILURES_PER_CALLER,
    },
    logger,
    metrics.registry,
    Object.fromEntries(UPSTREAMS.map((u) => [u, pool.targets[u].map((target) => target.name)])),
  );

  app.use(
    cors({
      origin: corsOrigins(config.CORS_ORIGINS),
      exposedHeaders: [
        'X-Request-Id',
        'ETag',
        'Location',
        'Retry-After',
        'RateLimit-Limit',
        'RateLimit-Remaining',
        'RateLimit-Reset',
        'Link',
        'Idempotency-Replayed',
      ],
      maxAge: 600,
    }),
  );
  app.get('/health', async (_req, res) => {
    const { anyDown, ...health } = await aggregateHealth(deps.upstreams, config.HEALTH_TIMEOUT_MS);
    res.status(anyDown ? 503 : 200).json(health);
  });
  app.use(apiDocs(deps.upstreams, config.HEALTH_TIMEOUT_MS));
  app.use(stripIdentityHeaders());
  app.use(bodySizeLimit(config.BODY_LIMIT_BYTES));
  app.use(requireAccessToken({ resolveKey: deps.resolveKey, isRevoked: deps.isRevoked }));
  const callerLimits = { perUser: config.RATE_LIMIT_PER_USER, perIp: config.RATE_LIMIT_PER_IP };
  app.use(apiRateLimit(callerLimits, deps.rateLimitStore));
  app.use(
    apiProxy({
      pool,
      timeoutMs: config.PROXY_TIMEOUT_MS,
      breakers,
      bodyLimitBytes: config.BODY_LIMIT_BYTES,
      logger,
    }),
  );
  return { app: finish(), breakers, pool, metrics, clientAddress };
}
