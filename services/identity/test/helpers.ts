import { randomBytes, randomUUID } from 'node:crypto';
import type { Express } from 'express';
import request from 'supertest';
import { postgresHarness, stack, TopicReader, type TestKafka } from '@trellis/shared/testing';
import { buildApp, buildServices } from '../src/app.ts';
import { DEV_KEY_ENCRYPTION_SECRET, readConfig } from '../src/config.ts';
import { KeyStore } from '../src/keys/keys.service.ts';
import { migrations } from '../src/migrations/index.ts';
import { defineModels } from '../src/models.ts';

export const PASSWORD = 'correct horse battery';

/** Identity as main.ts wires it, on a fresh database and topic prefix. */
export async function startIdentity(env: Record<string, string> = {}) {
  const harness = await postgresHarness('identity', migrations);
  const { sequelize, outbox, bus, readiness } = harness.runtime;
  const models = defineModels(sequelize);
  const keys = new KeyStore({
    sequelize,
    models,
    rotationDays: 30,
    logger: harness.logger,
    passphrase: DEV_KEY_ENCRYPTION_SECRET,
  });
  await keys.rotateIfDue();
  const config = readConfig({
    NODE_ENV: 'test',
    PORT: '0',
    KAFKA_BROKERS: stack.kafkaBrokers.join(','),
    DATABASE_URL: 'postgres://unused@127.0.0.1/unused',
    ...env,
  });
  const deps = {
    logger: harness.logger,
    readiness,
    sequelize,
    models,
    outbox,
    keys,
    isRevoked: harness.runtime.revocations.isRevoked,
    config,
  };
  const services = buildServices(deps);
  const app = buildApp(deps, services);
  const kafka: TestKafka = {
    brokers: stack.kafkaBrokers,
    topicPrefix: bus.prefix,
    partitions: bus.partitions,
    groupId: (name) => `${name}-${randomBytes(3).toString('hex')}`,
  };
  return { harness, app, models, keys, services, kafka, config, close: () => harness.close() };
}

export type Identity = Awaited<ReturnType<typeof startIdentity>>;

export function uniqueEmail(label = 'user'): string {
  return `${label}-${randomUUID().slice(0, 8)}@example.com`;
}

/** A distinct client IP per test (the app trusts loopback proxies), so throttling stays per test. */
export function uniqueIp(): string {
  const b = randomBytes(3);
  return `10.${b[0]}.${b[1]}.${b[2]}`;
}

export interface Registered {
  user: { id: string; email: string; name: string; emailVerified: boolean; createdAt: string };
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  email: string;
}

export async function register(
  app: Express,
  email = uniqueEmail(),
  name = 'Ada Lovelace',
): Promise<Registered> {
  const res = await request(app).post('/api/v1/auth/register').send({ email, password: PASSWORD, name });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { ...res.body, email };
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** Reads identity's outbox topics from the beginning of this test's prefix. */
export async function readTopics(identity: Identity, topics: string[]): Promise<TopicReader> {
  await identity.harness.runtime.bus.ensureTopics(topics);
  return TopicReader.start(identity.kafka, topics);
}

export { envelopes, waitForEvent } from '@trellis/shared/testing';
