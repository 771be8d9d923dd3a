import assert from 'node:assert/strict';
import type { Express } from 'express';
import request from 'supertest';

/** Asserts a response is an api.md §1 problem with the given status and code. */
export function assertProblem(
  response: { status: number; headers: Record<string, string>; body: Record<string, unknown> },
  status: number,
  code: string,
): void {
  assert.equal(response.status, status, JSON.stringify(response.body));
  assert.match(response.headers['content-type'] ?? '', /^application\/problem\+json/);
  assert.equal(response.body.status, status);
  assert.equal(response.body.code, code);
  assert.equal(typeof response.body.title, 'string');
  assert.equal(typeof response.body.detail, 'string');
  assert.equal(response.body.requestId, response.headers['x-request-id']);
}

/**
 * The checks every service's frame must pass: liveness, readiness against its real stores,
 * Prometheus metrics, request ids, and problem+json for unknown routes and malformed bodies.
 */
export async function assertServiceFrame(
  app: Express,
  service: string,
  readinessChecks: string[],
): Promise<void> {
  const live = await request(app).get('/health/live');
  assert.equal(live.status, 200);
  assert.deepEqual(live.body, { status: 'ok' });

  const ready = await request(app).get('/health/ready');
  assert.equal(ready.status, 200, JSON.stringify(ready.body));
  assert.deepEqual(ready.body, {
    status: 'ok',
    checks: Object.fromEntries(readinessChecks.map((name) => [name, 'up'])),
  });

  const metrics = await request(app).get('/metrics');
  assert.equal(metrics.status, 200);
  assert.match(metrics.text, new RegExp(`http_request_duration_seconds_count\\{service="${service}"`));
  assert.match(metrics.text, /process_cpu_seconds_total/);

  const echoed = await request(app).get('/health/live').set('X-Request-Id', 'client-id-123');
  assert.equal(echoed.headers['x-request-id'], 'client-id-123');
  const replaced = await request(app).get('/health/live').set('X-Request-Id', 'bad id with spaces');
  assert.match(replaced.headers['x-request-id'] ?? '', /^[0-9a-f-]{36}$/);

  assertProblem(await request(app).get('/api/v1/no-such-route'), 404, 'NOT_FOUND');
  const malformed = await request(app)
    .post('/api/v1/no-such-route')
    .set('Content-Type', 'application/json')
    .send('{"unterminated": ');
  // The body parser runs before routing: a malformed body is a 400 wherever it is sent.
  assertProblem(malformed, 400, 'VALIDATION_FAILED');
  assert.deepEqual(malformed.body.errors, [{ path: '(body)', message: 'Malformed JSON' }]);
}
