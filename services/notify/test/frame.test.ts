import { after, before, test } from 'node:test';
import { assertServiceFrame } from '@trellis/shared/testing';
import { startNotify, type Notify } from './helpers.ts';

let notify: Notify;

before(async () => {
  notify = await startNotify();
});

after(() => notify.close());

test('notify serves health, readiness against MongoDB and Kafka, metrics and problem+json errors', async () => {
  await assertServiceFrame(notify.app, 'notify', ['mongodb', 'kafka']);
});
