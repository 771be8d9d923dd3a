import { createServer, type IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Duplex } from 'node:stream';
import type { Express } from 'express';
import type { Connection } from 'mongoose';
import type { Logger } from 'pino';
import type { Sequelize } from 'sequelize';
import { followRevocations, type RevocationList } from '../auth/revocations.ts';
import { connectMongo, pingMongo } from '../db/mongo.ts';
import { openMigratedDatabase } from '../db/migration-job.ts';
import type { Migration } from '../db/postgres.ts';
import { EventBus } from '../events/kafka.ts';
import type { EventConsumer } from '../events/kafka-types.ts';
import { PgOutbox } from '../events/pg-outbox.ts';
import { createMetrics, type Metrics } from '../http/metrics.ts';
import type { ReadinessCheck } from '../http/service-app.ts';
import { observeEventBus } from '../observability/event-metrics.ts';
import { mongoOutboxBacklog, observeOutbox, pgOutboxBacklog } from '../observability/outbox-metrics.ts';
import { startDraining } from './drain.ts';
import { closeServer, installShutdown, listen, unusedConnections, type ShutdownStep } from './shutdown.ts';

export interface KafkaConfig {
  KAFKA_BROKERS: string[];
  KAFKA_TOPIC_PREFIX: string;
  /** Partitions of the topics the service creates (default 12). */
  KAFKA_TOPIC_PARTITIONS?: number;
}

/**
 * What a running service holds besides its HTTP server, and how to release it. `stopSteps` run
 * in order after HTTP has stopped: consumers, then outbox flush, then stores.
 */
export interface Runtime {
  bus: EventBus;
  /** Access tokens revoked since they were issued: what `authenticate` checks (`isRevoked`). */
  revocations: RevocationList;
  readiness: ReadinessCheck[];
  stopSteps: ShutdownStep[];
  /** The service's registry with the bus's and the outbox's metrics: its app serves it (`metrics`). */
  metrics: Metrics;
}

export function createBus(service: string, config: KafkaConfig, logger: Logger): EventBus {
  return new EventBus({
    brokers: config.KAFKA_BROKERS,
    clientId: service,
    topicPrefix: config.KAFKA_TOPIC_PREFIX,
    ...(config.KAFKA_TOPIC_PARTITIONS ? { partitions: config.KAFKA_TOPIC_PARTITIONS } : {}),
    logger,
  });
}

export interface PostgresRuntime extends Runtime {
  sequelize: Sequelize;
  outbox: PgOutbox;
}

/**
 * Connects PostgreSQL and Kafka, starts the outbox relay and follows revocations. The database must
 * be migrated already (the migration step, `runMigrationJob`): with a migration of `migrations`
 * pending it throws PendingMigrationsError and the service does not start.
 */
export async function startPostgresRuntime(options: {
  service: string;
  config: KafkaConfig & { DATABASE_URL: string };
  logger: Logger;
  migrations: Migration[];
}): Promise<PostgresRuntime> {
  const { service, config, logger } = options;
  const sequelize = await openMigratedDatabase({
    service,
    url: config.DATABASE_URL,
    migrations: options.migrations,
    logger,
  });
  const bus = createBus(service, config, logger);
  const metrics = createMetrics(service);
  observeEventBus(metrics.registry, bus);
  observeOutbox(metrics.registry, pgOutboxBacklog(sequelize));
  const outbox = new PgOutbox({ sequelize, bus, logger });
  outbox.start();
  const revocations = await followRevocations(bus, service);
  return {
    sequelize,
    bus,
    outbox,
    revocations,
    metrics,
    readiness: [
      { name: 'postgres', check: () => sequelize.query('SELECT 1') },
      { name: 'kafka', check: () => bus.ping(), critical: false },
    ],
    stopSteps: [
      { name: 'kafka consumers', run: () => bus.stopConsumers() },
      { name: 'outbox flush', run: () => outbox.stop() },
      { name: 'kafka', run: () => bus.close() },
      { name: 'postgres', run: () => sequelize.close() },
    ],
  };
}

export interface MongoRuntime extends Runtime {
  connection: Connection;
}

/**
 * Connects MongoDB and Kafka and follows revocations. The service adds its MongoOutbox (it needs
 * the service's models).
 */
export async function startMongoRuntime(options: {
  service: string;
  config: KafkaConfig & { MONGO_URL: string };
  logger: Logger;
}): Promise<MongoRuntime> {
  const { service, config, logger } = options;
  const connection = await connectMongo(config.MONGO_URL, logger);
  const bus = createBus(service, config, logger);
  // The service's MongoOutbox (and notify's webhook outbox) keep their entries in `outbox`.
  const metrics = createMetrics(service);
  observeEventBus(metrics.registry, bus);
  observeOutbox(metrics.registry, mongoOutboxBacklog(connection));
  const revocations = await followRevocations(bus, service);
  return {
    connection,
    bus,
    revocations,
    metrics,
    readiness: [
      { name: 'mongodb', check: () => pingMongo(connection) },
      { name: 'kafka', check: () => bus.ping(), critical: false },
    ],
    stopSteps: [
      { name: 'kafka consumers', run: () => bus.stopConsumers() },
      { name: 'kafka', run: () => bus.close() },
      { name: 'mongodb', run: () => connection.close() },
    ],
  };
}

/**
 * Listens, logs where, and installs graceful shutdown: stop accepting HTTP and drain in-flight
 * requests first, then the runtime's steps.
 */
export async function serve(options: {
  app: Express;
  /** Where to listen (`HOST`: loopback unless the deployment says otherwise) and how long a shutdown may take. */
  config: { HOST: string; PORT: number; SHUTDOWN_TIMEOUT_MS: number; SHUTDOWN_DRAIN_MS?: number };
  logger: Logger;
  stopSteps: ShutdownStep[];
  /** HTTP upgrades (WebSockets) bypass express; this handles them. */
  onUpgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => unknown;
  /**
   * Steps before HTTP stops: upgraded connections (WebSockets) keep the server open until they are
   * closed, so whoever owns them closes them here.
   */
  beforeHttpClose?: ShutdownStep[];
}): Promise<void> {
  const server = createServer(options.app);
  if (options.onUpgrade) server.on('upgrade', options.onUpgrade);
  const unused = unusedConnections(server);
  const { HOST: host, PORT, SHUTDOWN_TIMEOUT_MS, SHUTDOWN_DRAIN_MS = 0 } = options.config;
  installShutdown(options.logger, SHUTDOWN_TIMEOUT_MS, [
    {
      name: 'drain',
      run: async () => {
        startDraining();
        if (SHUTDOWN_DRAIN_MS > 0) {
          options.logger.info({ ms: SHUTDOWN_DRAIN_MS }, 'draining: not ready, still serving');
          await sleep(SHUTDOWN_DRAIN_MS);
        }
      },
    },
    ...(options.beforeHttpClose ?? []),
    { name: 'http', run: () => closeServer(server, unused) },
    ...options.stopSteps,
  ]);
  const port = await listen(server, PORT, host);
  options.logger.info({ host, port }, 'listening');
}

/**
 * `serve`, then the consumers: they start once the service listens, so it never handles events for a
 * service that could not come up. On shutdown the periodic jobs stop first, then the consumers (their
 * last offsets committed), then `stopSteps`, then the runtime's (outbox, Kafka, the store).
 */
export async function serveWithConsumers(
  options: Omit<Parameters<typeof serve>[0], 'stopSteps'> & {
    service: string;
    runtime: { stopSteps: ShutdownStep[] };
    timers?: ReturnType<typeof setInterval>[];
    stopSteps?: ShutdownStep[];
    startConsumers: () => Promise<EventConsumer[]>;
  },
): Promise<void> {
  const { service, runtime, timers = [], stopSteps = [], startConsumers, ...served } = options;
  const consumers: EventConsumer[] = [];
  await serve({
    ...served,
    stopSteps: [
      ...(timers.length ? [{ name: 'periodic jobs', run: async () => timers.forEach(clearInterval) }] : []),
      { name: `${service} consumers`, run: () => Promise.all(consumers.map((c) => c.stop())) },
      ...stopSteps,
      ...runtime.stopSteps,
    ],
  });
  consumers.push(...(await startConsumers()));
}
