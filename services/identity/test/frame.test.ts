import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertServiceFrame } from '@trellis/shared/testing';
import { DEV_CODE_SECRET, DEV_KEY_ENCRYPTION_SECRET, readConfig } from '../src/config.ts';
import { startIdentity, type Identity } from './helpers.ts';

let identity: Identity;

before(async () => {
  identity = await startIdentity();
});

after(() => identity.close());

test('identity serves health, readiness against PostgreSQL and Kafka, metrics and problem+json errors', async () => {
  await assertServiceFrame(identity.app, 'identity', ['postgres', 'kafka']);
});

test('CODE_SECRET and KEY_ENCRYPTION_SECRET are required in production, public dev values otherwise', () => {
  const env = { PORT: '0', KAFKA_BROKERS: 'k:9092', DATABASE_URL: 'postgres://u@h/db' };
  assert.throws(() => readConfig({ ...env, NODE_ENV: 'production' }), /CODE_SECRET: Required in production/);
  assert.throws(
    () => readConfig({ ...env, NODE_ENV: 'production', CODE_SECRET: 's'.repeat(32) }),
    /KEY_ENCRYPTION_SECRET: Required in production/,
  );
  const dev = readConfig({ ...env, NODE_ENV: 'development' });
  assert.equal(dev.CODE_SECRET, DEV_CODE_SECRET);
  assert.equal(dev.KEY_ENCRYPTION_SECRET, DEV_KEY_ENCRYPTION_SECRET);
  const config = readConfig({
    ...env,
    NODE_ENV: 'production',
    CODE_SECRET: 's'.repeat(32),
    KEY_ENCRYPTION_SECRET: 'k'.repeat(32),
  });
  assert.equal(config.LOGIN_MAX_FAILURES, 10);
  assert.equal(config.LOGIN_MAX_FAILURES_PER_IP, 100);
  assert.equal(config.LOGIN_WINDOW_SECONDS, 900);
  assert.equal(config.KEY_ROTATION_DAYS, 30);
});
