// The service process, started by main.ts: config → connect → listen → consume → shutdown.
import {
  createBus,
  createLogger,
  createMetrics,
  followRevocations,
  observeEventBus,
  remoteJwks,
  serve,
  serveMetrics,
} from '@trellis/shared';
import { buildApp } from './app.ts';
import { readConfig } from './config.ts';
import { openRateLimitStore } from './limits/rate-limit-store.ts';
import { webSocketGate } from './routing/websocket.ts';
import { upstreamUrls } from './routing/upstreams.ts';

const config = readConfig();
const logger = createLogger('gateway', config.LOG_LEVEL);
const bus = createBus('gateway', config, logger);
const metrics = createMetrics('gateway');
observeEventBus(metrics.registry, bus);
const upstreams = upstreamUrls(config);
const resolveKey = remoteJwks({ identityUrls: config.IDENTITY_URL });

// RATE_LIMIT_STORE=postgres: one count per caller for every replica (README, "Rate limits across replicas").
const rateLimits = await openRateLimitStore(config, logger, metrics.registry);

// Every replica learns every revocation (the same feed every service follows).
const revocations = await followRevocations(bus, 'gateway');

const { app, breakers, pool, clientAddress } = buildApp({
  config,
  logger,
  readiness: [{ name: 'kafka', check: () => bus.ping(), critical: false }, ...rateLimits.readiness],
  upstreams,
  resolveKey,
  isRevoked: revocations.isRevoked,
  metrics,
  rateLimitStore: rateLimits.store,
});
// Before the public port opens; it stops last, so a drain can still be watched.
const metricsServer = await serveMetrics({
  metrics,
  host: config.HOST,
  port: config.METRICS_PORT,
  logger,
});
const webSockets = webSocketGate({
  pool,
  resolveKey,
  revocations,
  breakers,
  clientAddress,
  timeoutMs: config.PROXY_TIMEOUT_MS,
  logger,
});
await serve({
  app,
  config,
  logger,
  onUpgrade: webSockets,
  // Once the drain is over: relayed sockets would keep the server from closing.
  beforeHttpClose: [{ name: 'websockets', run: webSockets.closeAll }],
  stopSteps: [
    {
      name: 'breakers',
      run: async () => {
        pool.stop();
        breakers.shutdown();
      },
    },
    { name: 'kafka', run: () => bus.close() },
    ...rateLimits.stopSteps,
    { name: 'metrics', run: () => metricsServer.close() },
  ],
});
