// Process entry: config → connect → listen → consume → shutdown.
import { hostname } from 'node:os';
import { createBus, createLogger, identityEvents, remoteJwks, serve } from '@trellis/shared';
import { buildApp } from './app.ts';
import { RevocationList } from './auth/revocations.ts';
import { readConfig } from './config.ts';
import { webSocketGate } from './routing/websocket.ts';
import { upstreamUrls } from './routing/upstreams.ts';

const config = readConfig();
const logger = createLogger('gateway', config.LOG_LEVEL);
const bus = createBus('gateway', config, logger);
const upstreams = upstreamUrls(config);
const resolveKey = remoteJwks({ url: `${config.IDENTITY_URL}/api/v1/auth/jwks` });

// Every replica must learn every revocation, so each reads the topic in a group of its own,
// from the beginning (revocations live at most one token lifetime; older ones are ignored).
const revocations = new RevocationList();
await bus.consume({
  groupId: `gateway-revocations-${hostname()}-${process.pid}`,
  topics: [identityEvents.sessionRevoked.topic],
  handle: async ({ event }) => revocations.apply(event),
});
const pruning = setInterval(() => revocations.prune(), 60_000);

const { app, breakers } = buildApp({
  config,
  logger,
  readiness: [{ name: 'kafka', check: () => bus.ping() }],
  upstreams,
  resolveKey,
  isRevoked: revocations.isRevoked,
});
await serve({
  app,
  port: config.PORT,
  logger,
  shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  onUpgrade: webSocketGate({
    notifyUrl: config.NOTIFY_URL,
    resolveKey,
    revocations,
    breakers,
    timeoutMs: config.PROXY_TIMEOUT_MS,
    logger,
  }),
  stopSteps: [
    { name: 'timers', run: async () => (clearInterval(pruning), breakers.shutdown()) },
    { name: 'kafka', run: () => bus.close() },
  ],
});
