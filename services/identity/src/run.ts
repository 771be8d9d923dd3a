// The service process, started by main.ts: config → connect → listen → consume → shutdown.
import {
  consumerOf,
  createLogger,
  identityEvents,
  serveWithConsumers,
  startPostgresRuntime,
} from '@trellis/shared';
import { buildApp, buildServices } from './app.ts';
import { readConfig } from './config.ts';
import { CONSUMER_GROUP, identitySubscriptions } from './events/subscriptions.ts';
import { KeyStore } from './keys/keys.service.ts';
import { migrations } from './migrations/index.ts';
import { defineModels } from './models.ts';

const HOUSEKEEPING_INTERVAL_MS = 3600_000;

const config = readConfig();
const logger = createLogger('identity', config.LOG_LEVEL);
const runtime = await startPostgresRuntime({ service: 'identity', config, logger, migrations });
const { sequelize, outbox } = runtime;
// The topics identity publishes to exist before the outbox relay first needs them.
await runtime.bus.ensureTopics([...new Set(Object.values(identityEvents).map((event) => event.topic))]);
const models = defineModels(sequelize);
const keys = new KeyStore({
  sequelize,
  models,
  rotationDays: config.KEY_ROTATION_DAYS,
  logger,
  passphrase: config.KEY_ENCRYPTION_SECRET,
});
await keys.rotateIfDue();

const deps = {
  logger,
  readiness: runtime.readiness,
  metrics: runtime.metrics,
  sequelize,
  models,
  outbox,
  keys,
  isRevoked: runtime.revocations.isRevoked,
  config,
};
const services = buildServices(deps);
const { orgs, throttle } = services;

// Hourly: rotate the signing key when due (or pick up another replica's rotation), drop stale counters.
const housekeeping = setInterval(() => {
  Promise.all([keys.rotateIfDue(), throttle.sweep()]).catch((err: unknown) =>
    logger.error({ err }, 'housekeeping failed; retrying next hour'),
  );
}, HOUSEKEEPING_INTERVAL_MS);
housekeeping.unref();

await serveWithConsumers({
  service: 'identity',
  app: buildApp(deps, services),
  config,
  logger,
  runtime,
  timers: [housekeeping],
  startConsumers: async () => [
    await runtime.bus.consume(consumerOf(CONSUMER_GROUP, identitySubscriptions({ sequelize, orgs }))),
  ],
});
