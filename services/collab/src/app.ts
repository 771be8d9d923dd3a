import type { Express } from 'express';
import type { Connection } from 'mongoose';
import {
  accessProjection,
  authenticate,
  createServiceApp,
  mountRoutes,
  MongoInbox,
  type InternalClient,
  type KeyResolver,
  type Logger,
  type MongoOutbox,
  type Metrics,
  type ReadinessCheck,
  type RevocationCheck,
  mongoIdempotencyStore,
} from '@trellis/shared';
import { CollabAccess } from './access/access.ts';
import { announcementRoutes } from './announcements/announcements.routes.ts';
import { AnnouncementService } from './announcements/announcements.service.ts';
import { channelRoutes } from './channels/channels.routes.ts';
import { ChannelService } from './channels/channels.service.ts';
import { MessageService } from './channels/messages.service.ts';
import { commentRoutes } from './comments/comments.routes.ts';
import { CommentService } from './comments/comments.service.ts';
import { internalRoutes } from './internal/internal.routes.ts';
import type { CollabModels } from './models.ts';

export interface AppDeps {
  logger: Logger;
  readiness: ReadinessCheck[];
  /** The registry `/metrics` serves: the runtime's, with its bus and outbox metrics (new when absent). */
  metrics?: Metrics;
  connection: Connection;
  models: CollabModels;
  /** The outbox writer and relay of the models' events (started and stopped by the caller). */
  outbox: MongoOutbox;
  /** Public keys of identity's access tokens (the remote JWKS in production, a test signer in tests). */
  resolveKey: KeyResolver;
  /** Access tokens revoked before they expire (the runtime's `RevocationList`). */
  isRevoked: RevocationCheck;
  /** The membership fallback; without it a membership missing from the projection is a 404. */
  governance?: InternalClient;
  /** The project and task fallbacks; without them a project or task missing from the projection is a 404. */
  work?: InternalClient;
}

/** The use cases, wired once; `main.ts` also needs `projection`, `inbox` and `channels` for the consumer. */
export function buildServices(
  deps: Pick<AppDeps, 'connection' | 'models' | 'outbox' | 'governance' | 'work'>,
) {
  const { connection, models, governance, work } = deps;
  const projection = accessProjection({ connection, name: 'collab', governance, work });
  const inbox = new MongoInbox(connection);
  const access = new CollabAccess(projection.reader);
  const { outbox } = deps;
  const comments = new CommentService({ Comment: models.Comment, access, outbox });
  const channels = new ChannelService({ Channel: models.Channel, access, outbox });
  const messages = new MessageService({ Message: models.Message, channels, outbox });
  const announcements = new AnnouncementService({
    Announcement: models.Announcement,
    AnnouncementRead: models.AnnouncementRead,
    access,
    outbox,
  });
  return { projection, inbox, access, comments, channels, messages, announcements };
}

export type Services = ReturnType<typeof buildServices>;

/** The collab HTTP app; no I/O happens here, so tests can build it around their own connections. */
export function buildApp(deps: AppDeps, services: Services = buildServices(deps)): Express {
  const routes = [
    ...commentRoutes(services.comments),
    ...channelRoutes(services.channels, services.messages),
    ...announcementRoutes(services.announcements),
  ];
  const { app, finish } = createServiceApp({
    service: 'collab',
    logger: deps.logger,
    readiness: deps.readiness,
    metrics: deps.metrics,
    routes,
  });
  const guard = [authenticate(deps.resolveKey, { isRevoked: deps.isRevoked })];
  app.use(mountRoutes(routes, guard, { idempotency: mongoIdempotencyStore(deps.connection) }));
  // Cluster-only (see internal.routes.ts): mounted, but not in the public OpenAPI document.
  app.use(mountRoutes(internalRoutes(services.channels), guard));
  return finish();
}
