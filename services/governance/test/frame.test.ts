import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import request from 'supertest';
import { assertProblem, assertServiceFrame } from '@trellis/shared/testing';
import { testSigner } from '@trellis/shared/testing';
import { startGovernance, type Governance } from './helpers.ts';

let gov: Governance;

before(async () => {
  gov = await startGovernance();
});

after(() => gov.close());

test('governance serves health, readiness against PostgreSQL and Kafka, metrics and problem+json errors', async () => {
  await assertServiceFrame(gov.app, 'governance', ['postgres', 'kafka']);
});

test('every API route needs a valid access token; the internal one too; the document lists only /api/v1', async () => {
  assertProblem(await request(gov.app).get('/api/v1/orgs'), 401, 'UNAUTHENTICATED');
  const forged = testSigner(gov.signer.kid).sign({ sub: randomUUID(), email: 'x@example.com' });
  assertProblem(
    await request(gov.app).get('/api/v1/orgs').set('Authorization', `Bearer ${forged}`),
    401,
    'UNAUTHENTICATED',
  );
  const internal = `/internal/orgs/${randomUUID()}/members/${randomUUID()}`;
  assertProblem(await request(gov.app).get(internal), 401, 'UNAUTHENTICATED');

  const doc = await request(gov.app).get('/openapi.json');
  assert.equal(doc.status, 200);
  const paths = Object.keys(doc.body.paths as Record<string, unknown>);
  assert.ok(paths.includes('/api/v1/orgs/{orgId}/members/{userId}'));
  assert.ok(paths.includes('/api/v1/teams/{teamId}/settings'));
  assert.ok(
    paths.every((path) => path.startsWith('/api/v1/')),
    paths.join(', '),
  );
});
