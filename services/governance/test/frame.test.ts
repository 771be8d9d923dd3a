import { after, before, test } from 'node:test';
import { assertServiceFrame, postgresHarness, type Harness } from '@trellis/shared/testing';
import type { PostgresRuntime } from '@trellis/shared';
import { buildApp } from '../src/app.ts';
import { migrations } from '../src/migrations/index.ts';

let harness: Harness<PostgresRuntime>;

before(async () => {
  harness = await postgresHarness('governance', migrations);
});

after(() => harness.close());

test('governance serves health, readiness against PostgreSQL and Kafka, metrics and problem+json errors', async () => {
  const app = buildApp({ logger: harness.logger, readiness: harness.runtime.readiness });
  await assertServiceFrame(app, 'governance', ['postgres', 'kafka']);
});
