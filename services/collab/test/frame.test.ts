import { after, before, test } from 'node:test';
import { assertServiceFrame, mongoHarness, type Harness } from '@trellis/shared/testing';
import type { MongoRuntime } from '@trellis/shared';
import { buildApp } from '../src/app.ts';

let harness: Harness<MongoRuntime>;

before(async () => {
  harness = await mongoHarness('collab');
});

after(() => harness.close());

test('collab serves health, readiness against MongoDB and Kafka, metrics and problem+json errors', async () => {
  const app = buildApp({ logger: harness.logger, readiness: harness.runtime.readiness });
  await assertServiceFrame(app, 'collab', ['mongodb', 'kafka']);
});
