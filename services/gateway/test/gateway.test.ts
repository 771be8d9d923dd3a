import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import request from 'supertest';
import { listen, closeServer, type PostgresRuntime } from '@trellis/shared';
import { assertProblem, postgresHarness, testLogger, type Harness } from '@trellis/shared/testing';
import { buildApp as buildIdentity } from '../../identity/src/app.ts';
import { migrations as identityMigrations } from '../../identity/src/migrations/index.ts';
import { buildApp } from '../src/app.ts';
import { ROUTE_PREFIXES, UPSTREAMS, upstreamFor, type UpstreamUrls } from '../src/routing/upstreams.ts';

/** A port nothing listens on: bind, read the port, close. */
async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server, 0, '127.0.0.1');
  await closeServer(server);
  return port;
}

describe('gateway routing and upstream failures', () => {
  let identity: Harness<PostgresRuntime>;
  const servers: Server[] = [];
  let upstreams: UpstreamUrls;
  let gateway: ReturnType<typeof buildApp>;
  const seenByEcho: Array<{ url: string; headers: Record<string, unknown>; body: string }> = [];

  async function start(app: express.Express): Promise<string> {
    const server = createServer(app);
    servers.push(server);
    return `http://127.0.0.1:${await listen(server, 0, '127.0.0.1')}`;
  }

  before(async () => {
    identity = await postgresHarness('gwidentity', identityMigrations);
    // identity: the real service on its own database; work: records what reaches it; collab: never answers;
    // governance and notify: nothing listens.
    const echo = express();
    echo.use((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        seenByEcho.push({ url: req.url, headers: req.headers, body });
        res.status(200).json({ ok: true });
      });
    });
    const silent = express();
    silent.use(() => {
      /* never answers: lets the gateway's proxy timeout fire */
    });
    upstreams = {
      identity: await start(
        buildIdentity({ logger: identity.logger, readiness: identity.runtime.readiness }),
      ),
      governance: `http://127.0.0.1:${await closedPort()}`,
      work: await start(echo),
      collab: await start(silent),
      notify: `http://127.0.0.1:${await closedPort()}`,
    };
    gateway = buildApp({
      logger: testLogger('gateway'),
      readiness: [],
      upstreams,
      proxyTimeoutMs: 300,
      healthTimeoutMs: 500,
    });
  });

  after(async () => {
    for (const server of servers) server.closeAllConnections();
    await Promise.all(servers.map(closeServer));
    await identity.close();
  });

  test('every api.md §7 prefix maps to its service', () => {
    for (const upstream of UPSTREAMS) {
      for (const prefix of ROUTE_PREFIXES[upstream])
        assert.equal(upstreamFor(`/api/v1/${prefix}/x?y=1`), upstream);
    }
    assert.equal(upstreamFor('/api/v1/unknown'), undefined);
    assert.equal(upstreamFor('/api/v2/auth'), undefined);
  });

  test('proxies path, query and raw body untouched, with the request id', async () => {
    const body = '{"title":"raw body, not re-serialised" }';
    const res = await request(gateway)
      .post('/api/v1/projects/abc/tasks?x=1')
      .set('Content-Type', 'application/json')
      .set('X-Request-Id', 'trace-42')
      .send(body);
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-request-id'], 'trace-42');
    const seen = seenByEcho.at(-1);
    assert.equal(seen?.url, '/api/v1/projects/abc/tasks?x=1');
    assert.equal(seen?.body, body);
    assert.equal(seen?.headers['x-request-id'], 'trace-42');
  });

  test("the service's own problem answers pass through", async () => {
    assertProblem(await request(gateway).get('/api/v1/users/nope'), 404, 'NOT_FOUND');
  });

  test('a down upstream answers 503 UPSTREAM_UNAVAILABLE with Retry-After, fast', async () => {
    const started = performance.now();
    const res = await request(gateway).post('/api/v1/orgs').send({ name: 'x' });
    const elapsed = performance.now() - started;
    assertProblem(res, 503, 'UPSTREAM_UNAVAILABLE');
    assert.equal(res.headers['retry-after'], '5');
    assert.ok(elapsed < 1_000, `took ${elapsed} ms`);
  });

  test('an upstream that does not answer in time gives 504 UPSTREAM_TIMEOUT', async () => {
    assertProblem(await request(gateway).get('/api/v1/comments?taskId=1'), 504, 'UPSTREAM_TIMEOUT');
  });

  test('unknown paths are the gateway’s own 404 problem', async () => {
    assertProblem(await request(gateway).get('/api/v1/nothing-here'), 404, 'NOT_FOUND');
  });

  test('/health aggregates upstream readiness', async () => {
    const res = await request(gateway).get('/health');
    assert.equal(res.status, 503);
    assert.deepEqual(res.body, {
      status: 'degraded',
      services: { identity: 'up', governance: 'down', work: 'up', collab: 'down', notify: 'down' },
    });
  });
});
