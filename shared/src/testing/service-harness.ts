import type { Logger } from 'pino';
import type { Migration } from '../db/postgres.ts';
import {
  startMongoRuntime,
  startPostgresRuntime,
  type MongoRuntime,
  type PostgresRuntime,
} from '../lifecycle/runtime.ts';
import { createLogger } from '../logging/logger.ts';
import { createTestDatabase, testKafka, testMongoUrl } from './stack.ts';

export interface Harness<R> {
  runtime: R;
  logger: Logger;
  /** Releases everything the harness created, the test database included. */
  close: () => Promise<void>;
}

export function testLogger(service: string): Logger {
  return createLogger(service, process.env.TEST_LOG_LEVEL ?? 'silent');
}

/** A PostgreSQL service runtime on a fresh database and topic prefix, as `main.ts` would build it. */
export async function postgresHarness(
  service: string,
  migrations: Migration[],
): Promise<Harness<PostgresRuntime>> {
  const logger = testLogger(service);
  const db = await createTestDatabase(service);
  const kafka = testKafka(service);
  const runtime = await startPostgresRuntime({
    service,
    logger,
    migrations,
    config: {
      DATABASE_URL: db.url,
      KAFKA_BROKERS: kafka.brokers,
      KAFKA_TOPIC_PREFIX: kafka.topicPrefix,
      KAFKA_TOPIC_PARTITIONS: kafka.partitions,
    },
  });
  return {
    runtime,
    logger,
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
