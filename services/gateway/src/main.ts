// Process entry: config → connect → listen → shutdown.
import { createBus, createLogger, serve } from '@trellis/shared';
import { buildApp } from './app.ts';
import { readConfig } from './config.ts';
import { upstreamUrls } from './routing/upstreams.ts';

const config = readConfig();
const logger = createLogger('gateway', config.LOG_LEVEL);
const bus = createBus('gateway', config, logger);
const app = buildApp({
  logger,
  readiness: [{ name: 'kafka', check: () => bus.ping() }],
  upstreams: upstreamUrls(config),
  proxyTimeoutMs: config.PROXY_TIMEOUT_MS,
  healthTimeoutMs: config.HEALTH_TIMEOUT_MS,
});
await serve({
  app,
  port: config.PORT,
  logger,
  shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  stopSteps: [{ name: 'kafka', run: () => bus.close() }],
});
