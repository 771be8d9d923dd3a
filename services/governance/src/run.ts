// The service process, started by main.ts: config → connect → listen → consume → shutdown.
import {
  createLogger,
  governanceEvents,
  remoteJwks,
  serveWithConsumers,
  startPostgresRuntime,
  consumerOf,
} from '@trellis/shared';
import { buildApp, buildServices } from './app.ts';
import { startAuditSubscription } from './audit/audit.subscription.ts';
import { readConfig } from './config.ts';
import { CONSUMER_GROUP, governanceSubscriptions } from './events/subscriptions.ts';
import { INVITATION_SWEEP_MS } from './invitations/invitation-sweep.service.ts';
import { migrations } from './migrations/index.ts';
import { defineModels } from './models.ts';

const config = readConfig();
const logger = createLogger('governance', config.LOG_LEVEL);
const runtime = await startPostgresRuntime({ service: 'governance', config, logger, migrations });
const { sequelize, outbox } = runtime;
// The topics governance publishes to exist before the outbox relay first needs them.
await runtime.bus.ensureTopics([...new Set(Object.values(governanceEvents).map((event) => event.topic))]);
const models = defineModels(sequelize);
const resolveKey = remoteJwks({ identityUrls: config.IDENTITY_URL });

const deps = {
  logger,
  readiness: runtime.readiness,
  metrics: runtime.metrics,
  sequelize,
  models,
  outbox,
  resolveKey,
  isRevoked: runtime.revocations.isRevoked,
};
const services = buildServices(deps);

// Hourly, and once at start: PENDING invitations past their time are written down as EXPIRED.
const sweepInvitations = () =>
  services.invitationSweep
    .expireDue()
    .then((expired) => {
      if (expired > 0) logger.info({ expired }, 'invitations expired');
    })
    .catch((err: unknown) => logger.error({ err }, 'invitation expiry sweep failed'));
const sweep = setInterval(() => void sweepInvitations(), INVITATION_SWEEP_MS);
await serveWithConsumers({
  service: 'governance',
  app: buildApp(deps, services),
  config,
  logger,
  runtime,
  timers: [sweep],
  startConsumers: async () => [
    await runtime.bus.consume(
      consumerOf(
        CONSUMER_GROUP,
        governanceSubscriptions({ sequelize, directory: services.directory, approvals: services.approvals }),
      ),
    ),
    await startAuditSubscription({ bus: runtime.bus, sequelize, audit: services.audit }),
  ],
});
void sweepInvitations();
