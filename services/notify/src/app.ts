import type { Express } from 'express';
import type { Connection } from 'mongoose';
import {
  accessProjection,
  authenticate,
  createMetrics,
  createServiceApp,
  mountRoutes,
  MongoInbox,
  type EventBus,
  type InternalClient,
  type KeyResolver,
  type Logger,
  type Metrics,
  type ReadinessCheck,
  type RevocationCheck,
  mongoIdempotencyStore,
} from '@trellis/shared';
import { ChannelAccess, chatChannelModel } from './access/channel-access.ts';
import { notifySubscriptions } from './events/subscriptions.ts';
import { mailClaimModel, mailDeliveryModel } from './mail/delivery.model.ts';
import { mailMetrics } from './mail/mail.metrics.ts';
import { MailQueue, type MailQueueSettings } from './mail/mail.queue.ts';
import { MailService } from './mail/mail.service.ts';
import type { Mailer } from './mail/mailer.ts';
import { notifyModels } from './notifications/notification.model.ts';
import { notificationRoutes } from './notifications/notifications.routes.ts';
import { InboxService } from './notifications/notifications.service.ts';
import { Notifier } from './notifications/notifier.ts';
import { PreferenceService } from './notifications/preferences.ts';
import { UnreadCounts } from './notifications/unread-counts.ts';
import { createRealtime, userChannel, type RealtimeDeps } from './realtime/realtime.module.ts';
import { createWebhooks, type WebhookSettings } from './webhooks/webhooks.module.ts';

export interface AppDeps {
  logger: Logger;
  readiness: ReadinessCheck[];
  /** The registry `/metrics` serves: the runtime's, with its bus and outbox metrics (new when absent). */
  metrics?: Metrics;
  connection: Connection;
  bus: EventBus;
  mailer: Mailer;
  /** Public keys of identity's access tokens (the remote JWKS in production, a test signer in tests). */
  resolveKey: KeyResolver;
  /** Access tokens revoked before they expire (the runtime's `RevocationList`). */
  isRevoked: RevocationCheck;
  /** Base of the links mails carry (APP_URL). */
  appUrl: string;
  /** The fallbacks; without them only the projection counts. */
  governance?: InternalClient;
  work?: InternalClient;
  /** Chat channels notify has not heard of yet. */
  collab?: InternalClient;
  /** Hub settings (tests shorten heartbeats and history). */
  realtime?: Partial<Pick<RealtimeDeps, 'instanceId' | 'historyLimit' | 'historyMaxAgeMs' | 'heartbeatMs'>>;
  /** Webhook delivery settings (`webhookSettings(config)`; tests shorten the schedule). */
  webhooks: WebhookSettings;
  /** Notification mail queue settings (defaults: `DEFAULT_MAIL_QUEUE`; tests shorten the schedule). */
  mailQueue?: Partial<MailQueueSettings>;
}

/** Everything notify runs, wired once; `main.ts` and the tests start the same thing. */
export async function buildServices(deps: AppDeps) {
  const { connection, logger } = deps;
  const projection = accessProjection({
    connection,
    name: 'notify',
    ...(deps.governance ? { governance: deps.governance } : {}),
    ...(deps.work ? { work: deps.work } : {}),
  });
  // Created before the app, so the components register their metrics where /metrics reads.
  const metrics = deps.metrics ?? createMetrics('notify');
  const models = await notifyModels(connection);
  const deliveries = await mailDeliveryModel(connection);
  const mailing = mailMetrics(deps.mailer, metrics.registry);
  const mail = new MailService({ deliveries, mailer: mailing.mailer, logger });
  const mailQueue = new MailQueue({
    deliveries,
    claims: await mailClaimModel(connection),
    mailer: mailing.mailer,
    onGivenUp: mailing.givenUp,
    logger,
    ...(deps.mailQueue ? { settings: deps.mailQueue } : {}),
  });
  const chatChannels = chatChannelModel(connection);
  const channelAccess = new ChannelAccess({
    reader: projection.reader,
    channels: chatChannels,
    ...(deps.collab ? { collab: deps.collab } : {}),
  });
  const realtime = await createRealtime({
    registry: metrics.registry,
    connection,
    bus: deps.bus,
    logger,
    resolveKey: deps.resolveKey,
    isRevoked: deps.isRevoked,
    access: channelAccess,
    ...deps.realtime,
  });
  const webhooks = await createWebhooks({
    connection,
    bus: deps.bus,
    logger,
    projection,
    chatChannels,
    settings: deps.webhooks,
    registry: metrics.registry,
  });
  const preferences = new PreferenceService(models.Preferences);
  const counts = new UnreadCounts(models.InboxCounter, models.Notification);
  const notifier = new Notifier({
    models,
    counts,
    reader: projection.reader,
    preferences,
    realtime,
    mail: mailQueue,
    appUrl: deps.appUrl,
    logger,
  });
  const subscriptions = notifySubscriptions({
    inbox: new MongoInbox(connection),
    projection,
    chatChannels,
    commenters: models.TaskCommenters,
    notifier,
    mail,
    accessChanged: (orgId, userIds) => {
      webhooks.visibility.forget();
      return realtime.accessChanged(orgId, userIds);
    },
    appUrl: deps.appUrl,
  });
  return {
    metrics,
    projection,
    models,
    mail,
    mailQueue,
    realtime,
    channelAccess,
    preferences,
    notifier,
    inbox: new InboxService({
      model: models.Notification,
      counts,
      lastSeq: (userId) => realtime.lastSeq(userChannel(userId)),
    }),
    subscriptions,
    webhooks,
  };
}

export type Services = Awaited<ReturnType<typeof buildServices>>;

/** The notify HTTP app (the WebSocket hub is served on upgrades, next to it). */
export function buildApp(deps: AppDeps, services: Services): Express {
  const routes = [...notificationRoutes(services.inbox, services.preferences), ...services.webhooks.routes];
  const { app, finish } = createServiceApp({
    service: 'notify',
    logger: deps.logger,
    readiness: deps.readiness,
    routes,
    metrics: services.metrics,
  });
  app.use(
    mountRoutes(routes, [authenticate(deps.resolveKey, { isRevoked: deps.isRevoked })], {
      idempotency: mongoIdempotencyStore(deps.connection),
    }),
  );
  return finish();
}
