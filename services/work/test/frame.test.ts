import { after, before, test } from 'node:test';
import { assertServiceFrame } from '@trellis/shared/testing';
import { startWork, type Work } from './helpers.ts';

let work: Work;

before(async () => {
  work = await startWork();
});

after(() => work.close());

test('work serves health, readiness against PostgreSQL and Kafka, metrics and problem+json errors', async () => {
  await assertServiceFrame(work.app, 'work', ['postgres', 'kafka']);
});
