// Process entry: config → connect → listen → consume → shutdown.
import { createLogger, serve, startMongoRuntime } from '@trellis/shared';
import { buildApp } from './app.ts';
import { readConfig } from './config.ts';
import { startSubscriptions } from './events/subscriptions.ts';
import { mailDeliveryModel } from './mail/delivery.model.ts';
import { MailService } from './mail/mail.service.ts';
import { createMailer } from './mail/mailer.ts';

const config = readConfig();
const logger = createLogger('notify', config.LOG_LEVEL);
const runtime = await startMongoRuntime({ service: 'notify', config, logger });
const mailer = createMailer(config);
const mail = new MailService({ deliveries: await mailDeliveryModel(runtime.connection), mailer, logger });

const app = buildApp({ logger, readiness: runtime.readiness });
// The SMTP pool closes once the consumers (its only users) have stopped, before the store.
const closeMailer = { name: 'smtp', run: async () => mailer.close() };
await serve({
  app,
  port: config.PORT,
  logger,
  shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  stopSteps: runtime.stopSteps.flatMap((step) => (step.name === 'mongodb' ? [closeMailer, step] : [step])),
});
await startSubscriptions(runtime.bus, { mail, appUrl: config.APP_URL });
