import type { Express } from 'express';
import { createServiceApp, type Logger, type ReadinessCheck } from '@trellis/shared';
import { aggregateHealth } from './health/aggregate.ts';
import { apiProxy } from './routing/proxy.ts';
import type { UpstreamUrls } from './routing/upstreams.ts';

export interface AppDeps {
  logger: Logger;
  readiness: ReadinessCheck[];
  upstreams: UpstreamUrls;
  proxyTimeoutMs: number;
  healthTimeoutMs: number;
}

/** The gateway app: no JSON body parser, so proxied bodies stream through untouched. */
export function buildApp(deps: AppDeps): Express {
  const { app, finish } = createServiceApp({
    service: 'gateway',
    logger: deps.logger,
    readiness: deps.readiness,
    jsonBody: false,
  });
  app.get('/health', async (_req, res) => {
    const health = await aggregateHealth(deps.upstreams, deps.healthTimeoutMs);
    res.status(health.status === 'ok' ? 200 : 503).json(health);
  });
  app.use(apiProxy({ upstreams: deps.upstreams, timeoutMs: deps.proxyTimeoutMs, logger: deps.logger }));
  return finish();
}
