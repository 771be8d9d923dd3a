// The service process, started by main.ts: config → connect → listen → consume → shutdown.
import {
  createLogger,
  remoteJwks,
  serveWithConsumers,
  startPostgresRuntime,
  workEvents,
  consumerOf,
} from '@trellis/shared';
import { GovernanceClient } from './access/governance-client.ts';
import { buildApp, buildServices } from './app.ts';
import { readConfig } from './config.ts';
import { CONSUMER_GROUP, workSubscriptions } from './events/subscriptions.ts';
import { migrations } from './migrations/index.ts';

const config = readConfig();
const logger = createLogger('work', config.LOG_LEVEL);
const runtime = await startPostgresRuntime({ service: 'work', config, logger, migrations });
const { sequelize, outbox } = runtime;
// The topics work publishes to exist before the outbox relay first needs them.
await runtime.bus.ensureTopics([...new Set(Object.values(workEvents).map((event) => event.topic))]);
const resolveKey = remoteJwks({ identityUrls: config.IDENTITY_URL });
const governance = new GovernanceClient({
  baseUrl: config.GOVERNANCE_URL,
  timeoutMs: config.GOVERNANCE_TIMEOUT_MS,
  logger,
});

const deps = {
  logger,
  readiness: runtime.readiness,
  metrics: runtime.metrics,
  sequelize,
  outbox,
  resolveKey,
  isRevoked: runtime.revocations.isRevoked,
  governance,
  accessCacheTtlMs: config.ACCESS_CACHE_TTL_MS,
};
const services = buildServices(deps);

await serveWithConsumers({
  service: 'work',
  app: buildApp(deps, services),
  config,
  logger,
  runtime,
  stopSteps: [{ name: 'governance breaker', run: async () => governance.shutdown() }],
  startConsumers: async () => [
    await runtime.bus.consume(
      consumerOf(
        CONSUMER_GROUP,
        workSubscriptions({
          sequelize,
          projection: services.projection,
          projectApprovals: services.projectApprovals,
          memo: services.memo,
        }),
      ),
    ),
  ],
});
