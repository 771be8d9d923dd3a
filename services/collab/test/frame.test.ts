import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertServiceFrame } from '@trellis/shared/testing';
import { readConfig } from '../src/config.ts';
import { api, startCollab, type Collab } from './helpers.ts';

let collab: Collab;

before(async () => {
  collab = await startCollab();
});

after(() => collab.close());

test('collab serves health, readiness against MongoDB and Kafka, metrics and problem+json errors', async () => {
  await assertServiceFrame(collab.app, 'collab', ['mongodb', 'kafka']);
});

test('every API route needs a valid access token', async () => {
  for (const path of ['/api/v1/comments?taskId=x', '/api/v1/channels', '/api/v1/announcements']) {
    const res = await api(collab.app).get(path);
    assert.equal(res.status, 401, path);
    assert.equal(res.body.code, 'UNAUTHENTICATED');
  }
  const forged = await api(collab.app).get('/api/v1/channels').set('Authorization', 'Bearer not.a.token');
  assert.equal(forged.status, 401);
});

test('the OpenAPI document lists the collab routes', async () => {
  const res = await api(collab.app).get('/openapi.json');
  assert.equal(res.status, 200);
  const paths = Object.keys(res.body.paths as Record<string, unknown>).sort();
  assert.deepEqual(paths, [
    '/api/v1/announcements',
    '/api/v1/announcements/{id}',
    '/api/v1/announcements/{id}/read',
    '/api/v1/announcements/{id}/reads',
    '/api/v1/channels',
    '/api/v1/channels/{id}/messages',
    '/api/v1/channels/{id}/messages/{messageId}',
    '/api/v1/comments',
    '/api/v1/comments/{id}',
  ]);
});

test('the configuration is read once and fails fast, listing every problem', () => {
  const base = {
    MONGO_URL: 'mongodb://127.0.0.1:27017/trellis_collab',
    KAFKA_BROKERS: '127.0.0.1:9092',
    IDENTITY_URL: 'http://127.0.0.1:8081',
    GOVERNANCE_URL: 'http://127.0.0.1:8082',
    WORK_URL: 'http://127.0.0.1:8083',
  };
  const config = readConfig(base);
  assert.equal(config.PORT, 8084);
  assert.equal(config.WORK_TIMEOUT_MS, 1000);
  assert.throws(
    () => readConfig({ ...base, WORK_URL: undefined, GOVERNANCE_URL: 'nope' }),
    (err: Error & { issues?: string[] }) => {
      assert.ok(err.issues?.some((issue) => issue.startsWith('WORK_URL')));
      assert.ok(err.issues?.some((issue) => issue.startsWith('GOVERNANCE_URL')));
      return true;
    },
  );
});
