// The service process, started by main.ts: config → connect → outbox relay → listen → consume → shutdown.
import {
  collabEvents,
  createLogger,
  InternalClient,
  MongoOutbox,
  remoteJwks,
  serve,
  startMongoRuntime,
  type ShutdownStep,
} from '@trellis/shared';
import { buildApp, buildServices } from './app.ts';
import { readConfig } from './config.ts';
import { collabConsumers, collabSubscriptions } from './events/subscriptions.ts';
import { collabModels, initModels, outboxModels } from './models.ts';

const config = readConfig();
const logger = createLogger('collab', config.LOG_LEVEL);
const runtime = await startMongoRuntime({ service: 'collab', config, logger });
const { connection, bus } = runtime;
const models = collabModels(connection);
await initModels(models);
// The topics collab publishes to exist before the relay first needs them.
await bus.ensureTopics([...new Set(Object.values(collabEvents).map((event) => event.topic))]);
const outbox = new MongoOutbox({
  connection,
  bus,
  logger,
  models: outboxModels(models),
  sweepIntervalMs: config.OUTBOX_SWEEP_INTERVAL_MS,
});
outbox.start();

const resolveKey = remoteJwks({ identityUrls: config.IDENTITY_URL });
const governance = new InternalClient({
  name: 'governance',
  baseUrl: config.GOVERNANCE_URL,
  timeoutMs: config.GOVERNANCE_TIMEOUT_MS,
  logger,
});
const work = new InternalClient({
  name: 'work',
  baseUrl: config.WORK_URL,
  timeoutMs: config.WORK_TIMEOUT_MS,
  logger,
});

const deps = {
  logger,
  readiness: runtime.readiness,
  metrics: runtime.metrics,
  connection,
  models,
  outbox,
  resolveKey,
  isRevoked: runtime.revocations.isRevoked,
  governance,
  work,
};
const services = buildServices(deps);

// After HTTP: the consumers stop (runtime), then the relay publishes what is left and the breakers
// close, while Kafka and MongoDB are still open.
const beforeKafka: ShutdownStep[] = [
  { name: 'outbox flush', run: () => outbox.stop() },
  { name: 'fallback breakers', run: async () => [governance, work].forEach((client) => client.shutdown()) },
];
await serve({
  app: buildApp(deps, services),
  config,
  logger,
  stopSteps: runtime.stopSteps.flatMap((step) => (step.name === 'kafka' ? [...beforeKafka, step] : [step])),
});
for (const options of collabConsumers(
  collabSubscriptions({
    projection: services.projection,
    inbox: services.inbox,
    channels: services.channels,
  }),
))
  await bus.consume(options);
