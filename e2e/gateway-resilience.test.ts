import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { waitFor } from '@trellis/shared/testing';
import { isPublicApiRoute } from '../services/gateway/src/auth/public-routes.ts';
import { startSuite, type Suite } from './support/suite.ts';

let suite: Suite;

before(async () => {
  suite = await startSuite();
});

after(() => suite?.close());

test('all five upstreams are up behind the gateway', async () => {
  const res = await fetch(`${suite.gatewayUrl}/health`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {
    status: 'ok',
    services: { identity: 'up', governance: 'up', work: 'up', collab: 'up', notify: 'up' },
  });
});

test('identity down → 503 in < 100 ms and /health says so; back up → recovers without a gateway restart', async () => {
  await suite.kill('identity');
  const started = performance.now();
  const res = await fetch(`${suite.gatewayUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: 'ada@example.com', password: 'whatever-123' }),
  });
  const elapsed = performance.now() - started;
  assert.equal(res.status, 503);
  assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
  assert.equal(((await res.json()) as { code: string }).code, 'UPSTREAM_UNAVAILABLE');
  assert.ok(res.headers.get('retry-after'));
  assert.ok(elapsed < 100, `answered in ${elapsed.toFixed(1)} ms`);

  const health = await fetch(`${suite.gatewayUrl}/health`);
  assert.equal(health.status, 503);
  assert.equal(((await health.json()) as { services: Record<string, string> }).services.identity, 'down');

  await suite.start('identity');
  const recovered = await waitFor(
    async () => {
      const again = await fetch(`${suite.gatewayUrl}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{}',
      });
      return again.status !== 503 ? again.status : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 200, what: 'identity behind the gateway again' },
  );
  assert.notEqual(recovered, 503);
  assert.equal((await fetch(`${suite.gatewayUrl}/health`)).status, 200);
});

test('a path the API has, asked with another method, answers 405 with Allow, public routes included', async () => {
  const login = await fetch(`${suite.gatewayUrl}/api/v1/auth/login`, { method: 'DELETE' });
  assert.equal(login.status, 405);
  assert.equal(login.headers.get('allow'), 'POST');
  assert.match(login.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.equal(((await login.json()) as { code: string }).code, 'METHOD_NOT_ALLOWED');
  const lookup = await fetch(`${suite.gatewayUrl}/api/v1/tasks/lookup`, { method: 'PATCH' });
  assert.equal(lookup.status, 401, 'a protected path still wants a token first');
  const missing = await fetch(`${suite.gatewayUrl}/api/v1/auth/nothing`, { method: 'DELETE' });
  assert.equal(missing.status, 401);
});

test('the gateway serves the AsyncAPI document of the events and of /ws', async () => {
  const res = await fetch(`${suite.gatewayUrl}/api/asyncapi.json`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const document = (await res.json()) as { asyncapi: string; channels: Record<string, { address: string }> };
  assert.equal(document.asyncapi, '3.0.0');
  assert.ok(Object.values(document.channels).some((c) => c.address === 'work.task'));
  assert.ok(Object.values(document.channels).some((c) => c.address === '/ws'));
});

test('the merged OpenAPI document covers every service; Swagger UI is served', async () => {
  const res = await fetch(`${suite.gatewayUrl}/api/openapi.json`);
  assert.equal(res.status, 200);
  const document = (await res.json()) as {
    openapi: string;
    paths: Record<string, Record<string, { operationId?: string; parameters?: { name: string }[] }>>;
    'x-unavailable'?: string[];
  };
  assert.equal(document.openapi, '3.1.0');
  assert.equal(document['x-unavailable'], undefined, 'every service answered');
  for (const path of [
    '/api/v1/auth/register',
    '/api/v1/auth/login',
    '/api/v1/users/me',
    '/api/v1/users/{id}',
    '/api/v1/orgs/{orgId}/webhooks',
    '/api/v1/orgs/{orgId}/events',
  ]) {
    assert.ok(document.paths[path], `${path} is documented`);
  }
  // api.md §11: every operation has a unique operationId; every authenticated POST takes Idempotency-Key.
  const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ path, method, operation })),
  );
  assert.ok(operations.length >= 110, `${operations.length} operations`);
  const ids = operations.map((o) => o.operation.operationId);
  assert.ok(
    ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z0-9]*$/.test(id)),
    'camelCase ids',
  );
  assert.equal(new Set(ids).size, ids.length, 'unique operationIds');
  // The gateway lets through without a token exactly the operations identity documents as public.
  const open = operations.filter(
    (o) =>
      Array.isArray((o.operation as { security?: unknown[] }).security) &&
      (o.operation as { security: unknown[] }).security.length === 0,
  );
  assert.deepEqual(
    open.map((o) => `${o.method.toUpperCase()} ${o.path}`).sort(),
    operations
      .filter((o) => isPublicApiRoute(o.method.toUpperCase(), o.path))
      .map((o) => `${o.method.toUpperCase()} ${o.path}`)
      .sort(),
  );
  assert.ok(open.length >= 6);
  // Every error is problem+json with its schema; every protected operation says 401, 429 and 503.
  for (const { path, method, operation } of operations) {
    const responses = (operation as { responses: Record<string, { content?: Record<string, unknown> }> })
      .responses;
    for (const [status, response] of Object.entries(responses))
      if (Number(status) >= 400)
        assert.ok(
          response.content?.['application/problem+json'],
          `${method} ${path} ${status} is problem+json`,
        );
    for (const status of ['429', '503'])
      assert.ok(responses[status], `${method} ${path} documents ${status}`);
    if (!isPublicApiRoute(method.toUpperCase(), path))
      assert.ok(responses['401'], `${method} ${path} documents 401`);
  }
  // Shared component schemas, referenced by $ref, every reference resolvable.
  const components = (
    document as unknown as {
      components: { schemas: Record<string, unknown>; headers: Record<string, unknown> };
    }
  ).components;
  assert.ok(
    Object.keys(components.schemas).length >= 25,
    `${Object.keys(components.schemas).length} component schemas`,
  );
  const refs = [...JSON.stringify(document).matchAll(/"\$ref":"#\/components\/(schemas|headers)\/([^"]+)"/g)];
  for (const [, kind, name] of refs)
    assert.ok(components[kind as 'schemas' | 'headers'][name!], `${kind}/${name} resolves`);
  const created = (
    document.paths['/api/v1/projects/{id}/tasks']?.post as unknown as {
      responses: Record<string, { content: Record<string, { schema: unknown }> }>;
    }
  ).responses['201'];
  assert.deepEqual(created?.content['application/json']?.schema, { $ref: '#/components/schemas/Task' });
  // Every JSON body asked or answered has an example, and the samples look real.
  for (const { path, method, operation } of operations) {
    const { requestBody, responses } = operation as unknown as {
      requestBody?: { content: Record<string, { example?: unknown }> };
      responses: Record<string, { content?: Record<string, { example?: unknown }> }>;
    };
    for (const media of Object.values(requestBody?.content ?? {}))
      assert.notEqual(media.example, undefined, `${method} ${path}: request example`);
    for (const [status, response] of Object.entries(responses))
      if (Number(status) < 300)
        for (const media of Object.values(response.content ?? {}))
          assert.notEqual(media.example, undefined, `${method} ${path} ${status}: example`);
  }
  const taskExample = (
    document.paths['/api/v1/tasks/{id}']?.get as unknown as {
      responses: Record<string, { content: Record<string, { example: Record<string, unknown> }> }>;
    }
  ).responses['200']?.content['application/json']?.example;
  assert.match(String(taskExample?.id), /^[0-9a-f]{8}-[0-9a-f]{4}-/);
  assert.match(String(taskExample?.createdAt), /^20\d\d-/);
  assert.ok(Number(taskExample?.version) >= 1);
  const createTask = document.paths['/api/v1/projects/{id}/tasks']?.post;
  assert.equal(createTask?.operationId, 'createProjectTask');
  assert.ok(createTask?.parameters?.some((p) => p.name === 'Idempotency-Key'));
  const docs = await fetch(`${suite.gatewayUrl}/api/docs`);
  assert.match(await docs.text(), /swagger-ui/);
});
