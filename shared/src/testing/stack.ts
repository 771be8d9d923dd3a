import { randomBytes } from 'node:crypto';
import mongoose from 'mongoose';
import pg from 'pg';
import type { Logger } from 'pino';
import { EventBus } from '../events/kafka.ts';

/**
 * Where the local stack is (set by `npm test`; defaults match infra/local). Tests never share
 * state: each gets its own database names, topic prefix and group ids.
 */
export const stack = {
  adminDatabaseUrl: process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/postgres',
  mongoUrl: (process.env.MONGO_URL ?? 'mongodb://127.0.0.1:27017/').replace(/\/?$/, '/'),
  kafkaBrokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
  maildevUrl: process.env.MAILDEV_URL ?? 'http://127.0.0.1:1080',
  smtpHost: process.env.SMTP_HOST ?? '127.0.0.1',
  smtpPort: Number(process.env.SMTP_PORT ?? 1025),
};

export function uniqueName(label: string): string {
  return `t_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export interface TestDatabase {
  url: string;
  name: string;
  drop: () => Promise<void>;
}

/** A fresh PostgreSQL database for one test file. */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const name = uniqueName(label);
  const admin = new pg.Client({ connectionString: stack.adminDatabaseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: withDatabase(stack.adminDatabaseUrl, name),
    drop: async () => {
      const client = new pg.Client({ connectionString: stack.adminDatabaseUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** A fresh MongoDB (FerretDB) database URL for one test file. */
export function testMongoUrl(label: string): string {
  return `${stack.mongoUrl}${uniqueName(label)}`;
}

/**
 * Drops a test's MongoDB (FerretDB) database by URL (end-to-end suites, which hand the URL to a
 * service): left behind, every run would leave its files on the local FerretDB.
 */
export async function dropMongoDatabase(url: string): Promise<void> {
  const connection = await mongoose.createConnection(url, { serverSelectionTimeoutMS: 5_000 }).asPromise();
  try {
    await connection.dropDatabase();
  } finally {
    await connection.close();
  }
}

export interface TestKafka {
  brokers: string[];
  topicPrefix: string;
  /** Partitions of the test's topics: 3, not the services' 12 — a test run creates thousands of topics. */
  partitions: number;
  groupId: (name: string) => string;
}

/** See `TestKafka.partitions`. */
export const TEST_TOPIC_PARTITIONS = 3;

/** A topic prefix and group-id factory unique to this run. */
export function testKafka(label: string): TestKafka {
  const topicPrefix = `${uniqueName(label)}.`;
  return {
    brokers: stack.kafkaBrokers,
    topicPrefix,
    partitions: TEST_TOPIC_PARTITIONS,
    groupId: (name) => `${name}-${randomBytes(3).toString('hex')}`,
  };
}

/** An EventBus on the test's own topics (its prefix), with `topics` created up front. */
export async function testBus(
  kafka: TestKafka,
  clientId: string,
  logger: Logger,
  topics: string[],
): Promise<EventBus> {
  const bus = new EventBus({
    brokers: kafka.brokers,
    clientId,
    topicPrefix: kafka.topicPrefix,
    partitions: kafka.partitions,
    logger,
  });
  await bus.ensureTopics(topics);
  return bus;
}

type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

/** Polls until `probe` returns a truthy value, or fails with the last value seen. */
export async function waitFor<T>(
  probe: () => Promise<T> | T,
  { timeoutMs = 15_000, intervalMs = 50, what = 'condition' } = {},
): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (last) return last as Truthy<T>;
    if (Date.now() > deadline)
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
