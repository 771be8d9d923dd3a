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
import { webSocketGate } from './routing/websocket.ts';
import { upstreamUrls } from './routing/upstreams.ts';

const config = readConfig();
const logger = createLogger('gateway', config.LOG_LEVEL);
const bus = createBus('gateway', config, logger);
const metrics = createMetrics('gateway');
observeEventBus(metrics.registry, bus);
const upstreams = upstreamUrls(config);
const resolveKey = remoteJwks({ url: `${config.IDENTITY_URL}/api/v1/auth/jwks` });

// Every replica learns every revocation (the same feed every service follows).
const revocations = await followRevocations(bus, 'gateway');

const { app, breakers, clientAddress } = buildApp({
  config,
  logger,
  readiness: [{ name: 'kafka', check: () => bus.ping(), critical: false }],
  upstreams,
  resolveKey,
  isRevoked: revocations.isRevoked,
  metrics,
});
// Before the public port opens; it stops last, so a drain can still be watched.
const metricsServer = await serveMetrics({
  metrics,
  host: config.HOST,
  port: config.METRICS_PORT,
  logger,
});
await serve({
  app,
  config,
  logger,
  onUpgrade: webSocketGate({
    notifyUrl: config.NOTIFY_URL,
    resolveKey,
    revocations,
    breakers,
    clientAddress,
    timeoutMs: config.PROXY_TIMEOUT_MS,
    logger,
  }),
  stopSteps: [
    { name: 'breakers', run: async () => breakers.shutdown() },
    { name: 'kafka', run: () => bus.close() },
    { name: 'metrics', run: () => metricsServer.close() },
  ],
});
