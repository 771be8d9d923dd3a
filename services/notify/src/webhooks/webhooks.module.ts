import type { Connection, Model } from 'mongoose';
import type { Registry } from 'prom-client';
import { MongoOutbox, type AccessProjection, type EventBus, type Logger } from '@trellis/shared';
import type { ChatChannel } from '../access/channel-access.ts';
import { WebhookDispatcher, type DispatcherSettings } from './dispatcher.ts';
import { webhookConsumer } from './fanout.ts';
import { EventFeed } from './feed.ts';
import { EventVisibility } from './visibility.ts';
import { webhookModels } from './webhook.model.ts';
import { webhookRoutes } from './webhooks.routes.ts';
import { WebhookService } from './webhooks.service.ts';
import { DeliveryService } from './deliveries.service.ts';
import { WebhookAccess } from './webhook.access.ts';
import { webhookMetrics } from './webhook.metrics.ts';

export interface WebhookSettings extends DispatcherSettings {
  secretOverlapMs: number;
  retentionDays: number;
  outboxSweepIntervalMs: number;
}

/** The settings of a deployment from notify's config. */
export function webhookSettings(config: {
  WEBHOOK_ALLOW_HTTP: boolean;
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: boolean;
  WEBHOOK_RETRY_SCHEDULE: number[];
  WEBHOOK_TIMEOUT_MS: number;
  WEBHOOK_DISABLE_AFTER_FAILURES: number;
  WEBHOOK_DISABLE_AFTER_MS: number;
  WEBHOOK_CONCURRENCY: number;
  WEBHOOK_GLOBAL_CONCURRENCY: number;
  WEBHOOK_SECRET_OVERLAP_MS: number;
  EVENT_FEED_RETENTION_DAYS: number;
  OUTBOX_SWEEP_INTERVAL_MS: number;
}): WebhookSettings {
  return {
    policy: {
      allowHttp: config.WEBHOOK_ALLOW_HTTP,
      allowPrivateNetworks: config.WEBHOOK_ALLOW_PRIVATE_NETWORKS,
    },
    schedule: config.WEBHOOK_RETRY_SCHEDULE,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    maxFailures: config.WEBHOOK_DISABLE_AFTER_FAILURES,
    maxFailingMs: config.WEBHOOK_DISABLE_AFTER_MS,
    perWebhook: config.WEBHOOK_CONCURRENCY,
    global: config.WEBHOOK_GLOBAL_CONCURRENCY,
    pollMs: 1_000,
    visibilityWaitMs: 60_000,
    secretOverlapMs: config.WEBHOOK_SECRET_OVERLAP_MS,
    retentionDays: config.EVENT_FEED_RETENTION_DAYS,
    outboxSweepIntervalMs: config.OUTBOX_SWEEP_INTERVAL_MS,
  };
}

const HOUR = 3_600_000;

/**
 * Webhooks and the event feed (api.md §10), wired: the use cases, the fan-out consumer, the
 * dispatcher, the outbox of `notify.webhook` events (audited by governance; `webhook.disabled` also
 * notifies the org's ADMINs) and the retention sweep.
 */
export async function createWebhooks(deps: {
  connection: Connection;
  bus: EventBus;
  logger: Logger;
  projection: AccessProjection;
  chatChannels: Model<ChatChannel>;
  settings: WebhookSettings;
  /** Where the delivery metrics go (the app's registry); none when absent. */
  registry?: Registry;
}) {
  const { connection, logger, settings } = deps;
  const models = await webhookModels(connection);
  const outbox = new MongoOutbox({
    connection,
    bus: deps.bus,
    logger,
    models: [models.Webhook],
    sweepIntervalMs: settings.outboxSweepIntervalMs,
  });
  const feed = new EventFeed(models);
  const visibility = new EventVisibility({ models: deps.projection.models, channels: deps.chatChannels });
  const access = new WebhookAccess({ models, reader: deps.projection.reader });
  const service = new WebhookService({
    models,
    access,
    outbox,
    policy: settings.policy,
    secretOverlapMs: settings.secretOverlapMs,
  });
  const dispatcher = new WebhookDispatcher({
    models,
    settings,
    visibility,
    logger,
    onDisable: (id, reason, failures) => service.disable(id, reason, failures),
    ...(deps.registry ? { onAttempt: webhookMetrics(deps.registry) } : {}),
  });
  service.attach(dispatcher);
  const deliveries = new DeliveryService({ models, access, feed, visibility, dispatcher });
  let sweeper: NodeJS.Timeout | undefined;
  const expire = async () => {
    const before = new Date(Date.now() - settings.retentionDays * 24 * HOUR);
    await feed.expire(before);
    await models.Delivery.deleteMany({ createdAt: { $lt: before }, state: { $ne: 'PENDING' } });
    await models.Claim.deleteMany({ until: { $lt: new Date(Date.now() - 24 * HOUR) } });
  };
  return {
    models,
    service,
    feed,
    visibility,
    dispatcher,
    outbox,
    routes: webhookRoutes(service, deliveries),
    consumer: () => webhookConsumer({ feed, webhooks: service, models, dispatcher }),
    start(): void {
      outbox.start();
      dispatcher.start();
      sweeper = setInterval(
        () => void expire().catch((err: unknown) => logger.warn({ err }, 'webhook retention sweep failed')),
        HOUR,
      );
      sweeper.unref();
    },
    async stop(): Promise<void> {
      clearInterval(sweeper);
      await dispatcher.stop();
      await outbox.stop();
    },
  };
}

export type Webhooks = Awaited<ReturnType<typeof createWebhooks>>;
