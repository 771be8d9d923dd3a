// The service process, started by main.ts: config → connect → listen → consume → shutdown.
import {
  createLogger,
  InternalClient,
  notifyEvents,
  remoteJwks,
  serve,
  startMongoRuntime,
  type EventConsumer,
} from '@trellis/shared';
import { buildApp, buildServices } from './app.ts';
import { readConfig } from './config.ts';
import { notifyConsumers } from './events/subscriptions.ts';
import { createMailer } from './mail/mailer.ts';
import { seqOldNotifications } from './notifications/notification.model.ts';
import { webhookSettings } from './webhooks/webhooks.module.ts';

const config = readConfig();
const logger = createLogger('notify', config.LOG_LEVEL);
const runtime = await startMongoRuntime({ service: 'notify', config, logger });
// The topic notify publishes to (webhook changes) exists before its relay first needs it.
await runtime.bus.ensureTopics([...new Set(Object.values(notifyEvents).map((event) => event.topic))]);
const mailer = createMailer(config);
const resolveKey = remoteJwks({ identityUrls: config.IDENTITY_URL });
const timeoutMs = config.FALLBACK_TIMEOUT_MS;
const governance = new InternalClient({
  name: 'governance',
  baseUrl: config.GOVERNANCE_URL,
  timeoutMs,
  logger,
});
const work = new InternalClient({ name: 'work', baseUrl: config.WORK_URL, timeoutMs, logger });
const collab = new InternalClient({ name: 'collab', baseUrl: config.COLLAB_URL, timeoutMs, logger });

const deps = {
  logger,
  readiness: runtime.readiness,
  metrics: runtime.metrics,
  connection: runtime.connection,
  bus: runtime.bus,
  mailer,
  resolveKey,
  isRevoked: runtime.revocations.isRevoked,
  appUrl: config.APP_URL,
  governance,
  work,
  collab,
  webhooks: webhookSettings(config),
  mailQueue: { concurrency: config.MAIL_CONCURRENCY },
};
const services = await buildServices(deps);
const { realtime } = services;

// Filled once listening (the consumers start last); stopped before the runtime's steps.
const consumers: EventConsumer[] = [];
await serve({
  app: buildApp(deps, services),
  config,
  logger,
  onUpgrade: (req, socket, head) => realtime.handleUpgrade(req, socket, head),
  // Open sockets would keep the HTTP server from closing: the hub closes them (1012) first.
  beforeHttpClose: [{ name: 'websocket hub', run: () => realtime.stop() }],
  stopSteps: [
    { name: 'notify consumers', run: () => Promise.all(consumers.map((c) => c.stop())) },
    // Attempts in flight finish and the outbox publishes what is left, while Kafka and the store are open.
    { name: 'webhooks', run: () => services.webhooks.stop() },
    // Sends in flight finish; mails still waiting are let go for another replica or the next start.
    { name: 'mail queue', run: () => services.mailQueue.stop() },
    {
      name: 'breakers',
      run: async () => {
        governance.shutdown();
        work.shutdown();
        collab.shutdown();
      },
    },
    // The SMTP pool closes once the consumers (its only users) have stopped, before the store.
    ...runtime.stopSteps.flatMap((step) =>
      step.name === 'mongodb' ? [{ name: 'smtp', run: async () => mailer.close() }, step] : [step],
    ),
  ],
});
await realtime.start();
services.webhooks.start();
services.mailQueue.start();
void seqOldNotifications(runtime.connection, services.models.Notification).then(
  (given) => given > 0 && logger.info({ given }, 'older notifications given their seqs'),
  (err: unknown) =>
    logger.error({ err }, 'older notifications not given seqs; tried again at the next start'),
);
for (const options of [...notifyConsumers(services.subscriptions), services.webhooks.consumer()])
  consumers.push(await runtime.bus.consume(options));
