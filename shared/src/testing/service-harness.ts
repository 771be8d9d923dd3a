import type { Logger } from 'pino';
import { grantRuntimeRole } from '../db/migration-job.ts';
import { createSequelize, migrate, withMigrationLock, type Migration } from '../db/postgres.ts';
import {
  startMongoRuntime,
  startPostgresRuntime,
  type MongoRuntime,
  type PostgresRuntime,
} from '../lifecycle/runtime.ts';
import { createLogger } from '../logging/logger.ts';
import { asRuntimeRole, ensureRuntimeRole, LOCAL_RUNTIME_ROLE } from './runtime-role.ts';
import { createTestDatabase, stack, testKafka, testMongoUrl } from './stack.ts';

export interface Harness<R> {
  runtime: R;
  logger: Logger;
  /** Releases everything the harness created, the test database included. */
  close: () => Promise<void>;
}

export function testLogger(service: string): Logger {
  return createLogger(service, process.env.TEST_LOG_LEVEL ?? 'silent');
}

/**
 * What a deployment's migration step does, in-process: `migrations` applied as the database's owner
 * (`ownerUrl`), then the local runtime role (created if missing) granted its rows.
 */
export async function migrateTestDatabase(
  ownerUrl: string,
  migrations: Migration[],
  logger: Logger,
): Promise<void> {
  await ensureRuntimeRole(stack.adminDatabaseUrl);
  const owner = createSequelize(ownerUrl, logger);
  try {
    await migrate(owner, migrations, logger);
    await withMigrationLock(owner, logger, () => grantRuntimeRole(owner, LOCAL_RUNTIME_ROLE.name, logger));
  } finally {
    await owner.close();
  }
}

export interface PostgresHarness extends Harness<PostgresRuntime> {
  /** The database as its owner, for what the service's role may not do (tamper with the audit log). */
  ownerUrl: string;
}

/**
 * A PostgreSQL service runtime on a fresh database and topic prefix, as a deployment runs it: the
 * database migrated first, then `main.ts`'s runtime connected as the runtime role (no DDL rights).
 */
export async function postgresHarness(service: string, migrations: Migration[]): Promise<PostgresHarness> {
  const logger = testLogger(service);
  const db = await createTestDatabase(service);
  const kafka = testKafka(service);
  let runtime: PostgresRuntime;
  try {
    await migrateTestDatabase(db.url, migrations, logger);
    runtime = await startPostgresRuntime({
      service,
      logger,
      migrations,
      config: {
        DATABASE_URL: asRuntimeRole(db.url),
        KAFKA_BROKERS: kafka.brokers,
        KAFKA_TOPIC_PREFIX: kafka.topicPrefix,
        KAFKA_TOPIC_PARTITIONS: kafka.partitions,
      },
    });
  } catch (err) {
    await db.drop();
    throw err;
  }
  return {
    runtime,
    logger,
    ownerUrl: db.url,
    close: async () => {
      for (const step of runtime.stopSteps) await step.run();
      await db.drop();
    },
  };
}

/** A MongoDB service runtime on a fresh database and topic prefix. */
export async function mongoHarness(service: string): Promise<Harness<MongoRuntime>> {
  const logger = testLogger(service);
  const kafka = testKafka(service);
  const runtime = await startMongoRuntime({
    service,
    logger,
    config: {
      MONGO_URL: testMongoUrl(service),
      KAFKA_BROKERS: kafka.brokers,
      KAFKA_TOPIC_PREFIX: kafka.topicPrefix,
      KAFKA_TOPIC_PARTITIONS: kafka.partitions,
    },
  });
  return {
    runtime,
    logger,
    close: async () => {
      await runtime.connection.dropDatabase();
      for (const step of runtime.stopSteps) await step.run();
    },
  };
}
