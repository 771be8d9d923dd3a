import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import request from 'supertest';
import { WebSocket, WebSocketServer } from 'ws';
import {
  createEvent,
  createServiceApp,
  identityEvents,
  listen,
  RevocationList,
  serveMetrics,
} from '@trellis/shared';
import { assertProblem, testLogger } from '@trellis/shared/testing';
import { buildApp, type AppDeps, type GatewayApp } from '../src/app.ts';
import { testSettings } from './settings.ts';
import { webSocketGate } from '../src/routing/websocket.ts';
import {
  ROUTE_PREFIXES,
  UPSTREAMS,
  upstreamFor,
  type Upstream,
  type UpstreamUrls,
} from '../src/routing/upstreams.ts';
import { closedPort, stopServers, testSigner } from '@trellis/shared/testing';

const signer = testSigner();
const config = testSettings;

/** Upstreams as the tests give them: one URL each, or a list of targets. */
type TestUpstreams = Record<Upstream, string | string[]>;
const asLists = (urls: TestUpstreams): UpstreamUrls =>
  Object.fromEntries(
    Object.entries(urls).map(([name, url]) => [name, typeof url === 'string' ? [url] : url]),
  ) as UpstreamUrls;

/** The loopback address of a supertest client, as the gateway's socket sees it. */
const LOOPBACK = /^(::ffff:)?127\.0\.0\.1$/;

describe('gateway', () => {
  const servers: Server[] = [];
  const revocations = new RevocationList();
  let upstreams: Record<Upstream, string>;
  let gateway: express.Express;
  const seen: Array<{ url: string; headers: Record<string, unknown>; body: string }> = [];
  const bearer = (token = signer.sign()) => ({ Authorization: `Bearer ${token}` });
  /** identity's logout of the token with this jti, as the revocation consumer hands it over. */
  const revoke = (jti: string) =>
    revocations.apply(
      createEvent(identityEvents.sessionRevoked, 'identity', {
        subjectId: randomUUID(),
        data: {
          userId: randomUUID(),
          familyId: randomUUID(),
          jti,
          expiresAt: new Date(Date.now() + 60_000).toISOString(),
          reason: 'logout',
        },
      }),
    );

  async function start(app: express.Express): Promise<string> {
    const server = createServer(app);
    servers.push(server);
    return `http://127.0.0.1:${await listen(server, 0, '127.0.0.1')}`;
  }

  function gatewayWith(overrides: Partial<Omit<AppDeps, 'upstreams'>> & { upstreams?: TestUpstreams } = {}) {
    return buildApp({
      config,
      logger: testLogger('gateway'),
      readiness: [],
      resolveKey: signer.resolveKey,
      isRevoked: revocations.isRevoked,
      ...overrides,
      upstreams: asLists(overrides.upstreams ?? upstreams),
    });
  }

  before(async () => {
    // A bare service frame: answers its health and a problem+json 404 for everything else.
    const frame = createServiceApp({
      service: 'identity',
      logger: testLogger('identity'),
      readiness: [],
    }).finish();
    const echo = express();
    echo.use((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        seen.push({ url: req.url, headers: req.headers, body });
        res.status(200).json({ ok: true });
      });
    });
    const silent = express();
    silent.use(() => {
      /* never answers: lets the proxy timeout fire */
    });
    upstreams = {
      // identity: a service frame; work: records what reaches it; collab: never answers;
      // governance and notify: nothing listens.
      identity: await start(frame),
      governance: `http://127.0.0.1:${await closedPort()}`,
      work: await start(echo),
      collab: await start(silent),
      notify: `http://127.0.0.1:${await closedPort()}`,
    };
    gateway = gatewayWith().app;
  });

  after(async () => {
    await stopServers(servers);
  });

  test('every api.md §7 prefix maps to its service', () => {
    for (const upstream of UPSTREAMS) {
      for (const prefix of ROUTE_PREFIXES[upstream])
        assert.equal(upstreamFor(`/api/v1/${prefix}/x?y=1`), upstream);
    }
    assert.equal(upstreamFor('/api/v1/unknown'), undefined);
    // api.md §10: an org's webhooks and event feed are notify's, the rest of /orgs governance's.
    assert.equal(upstreamFor('/api/v1/orgs/0b9f/webhooks'), 'notify');
    assert.equal(upstreamFor('/api/v1/orgs/0b9f/webhooks?limit=5'), 'notify');
    assert.equal(upstreamFor('/api/v1/orgs/0b9f/events?after=x'), 'notify');
    assert.equal(upstreamFor('/api/v1/orgs/0b9f/webhooksx'), 'governance');
    assert.equal(upstreamFor('/api/v1/orgs/0b9f/audit'), 'governance');
    assert.equal(upstreamFor('/api/v2/auth'), undefined);
  });

  test('proxies path, query and raw body untouched, forwards the token, strips client X-User-* headers', async () => {
    const body = '{"title":"raw body, not re-serialised" }';
    const token = signer.sign();
    const res = await request(gateway)
      .post('/api/v1/projects/abc/tasks?x=1')
      .set({ ...bearer(token), 'Content-Type': 'application/json', 'X-Request-Id': 'trace-42' })
      .set('X-User-Id', 'spoofed')
      .set('X-User-Roles', 'OWNER')
      .send(body);
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-request-id'], 'trace-42');
    const last = seen.at(-1);
    assert.equal(last?.url, '/api/v1/projects/abc/tasks?x=1');
    assert.equal(last?.body, body);
    assert.equal(last?.headers['x-request-id'], 'trace-42');
    assert.equal(last?.headers.authorization, `Bearer ${token}`);
    assert.equal(last?.headers['x-user-id'], undefined);
    assert.equal(last?.headers['x-user-roles'], undefined);
  });

  test('protected routes need a valid token; public routes do not', async () => {
    assertProblem(await request(gateway).get('/api/v1/projects'), 401, 'UNAUTHENTICATED');
    const publicRoute = await request(gateway).post('/api/v1/auth/login').send({});
    assert.notEqual(publicRoute.status, 401, 'login is public: the service answers, not the gateway');
  });

  test('forged, expired and foreign tokens are refused', async () => {
    const valid = signer.sign();
    const [header, payload] = valid.split('.') as [string, string, string];
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const jwtLib = (await import('jsonwebtoken')).default;
    const attacks: Record<string, string> = {
      'alg none': `${b64({ alg: 'none', typ: 'JWT', kid: signer.kid })}.${payload}.`,
      'HS256 signed with the public key': jwtLib.sign(
        claims,
        signer.publicKey.export({ type: 'spki', format: 'pem' }),
        {
          algorithm: 'HS256',
          keyid: signer.kid,
        },
      ),
      expired: signer.sign({}, { expiresIn: -10 }),
      'unknown kid': signer.sign({}, { keyid: 'someone-else' }),
      'tampered payload': `${header}.${b64({ ...claims, sub: randomUUID() })}.${valid.split('.')[2]}`,
      'wrong audience': signer.sign({}, { audience: 'another-api' }),
      'signed by another key': testSigner(signer.kid).sign(),
      garbage: 'not.a.jwt',
    };
    for (const [name, token] of Object.entries(attacks)) {
      const res = await request(gateway).get('/api/v1/projects').set(bearer(token));
      assert.equal(res.status, 401, `${name} must be refused`);
      assertProblem(res, 401, 'UNAUTHENTICATED');
    }
  });

  test('a revoked jti is refused from the moment the revocation is known', async () => {
    const jti = randomUUID();
    const token = signer.sign({ jti });
    assert.equal((await request(gateway).get('/api/v1/projects').set(bearer(token))).status, 200);
    revoke(jti);
    assertProblem(await request(gateway).get('/api/v1/projects').set(bearer(token)), 401, 'UNAUTHENTICATED');
  });

  test('client connections stay keep-alive through the proxy', async () => {
    const base = await start(gateway);
    for (let i = 0; i < 2; i += 1) {
      const res = await fetch(`${base}/api/v1/projects`, { headers: bearer() });
      await res.text();
      assert.equal(res.status, 200);
      assert.notEqual(
        res.headers.get('connection'),
        'close',
        'the upstream hop must not close the client connection',
      );
    }
  });

  test('a GET whose reused upstream connection was closed goes again on a fresh one; a POST answers 503', async () => {
    // Closes every second request on each connection before answering, as an upstream whose
    // keep-alive timeout ends just as the gateway reuses the connection; and every POST.
    const served = new Map<object, number>();
    let answered = 0;
    let posts = 0;
    const flaky = createServer((req, res) => {
      const nth = (served.get(req.socket) ?? 0) + 1;
      served.set(req.socket, nth);
      if (req.method === 'POST') posts += 1;
      if (nth % 2 === 0 || req.method === 'POST') {
        req.socket.destroy();
        return;
      }
      answered += 1;
      req.resume();
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ok":true}');
    });
    servers.push(flaky);
    const work = `http://127.0.0.1:${await listen(flaky, 0, '127.0.0.1')}`;
    // fetch keeps its connection to the gateway alive (supertest asks `Connection: close`, which the
    // proxy passes on, and no upstream connection would be reused).
    const base = await start(gatewayWith({ upstreams: { ...upstreams, work } }).app);
    const get = async () => {
      const res = await fetch(`${base}/api/v1/projects`, { headers: bearer() });
      await res.text();
      return res.status;
    };
    assert.deepEqual([await get(), await get()], [200, 200]);
    assert.equal(answered, 2);
    assert.ok(
      [...served.values()].some((count) => count === 2),
      'the second GET found its reused connection closed',
    );
    const post = await fetch(`${base}/api/v1/projects`, {
      method: 'POST',
      headers: { ...bearer(), 'Content-Type': 'application/json' },
      body: '{"name":"x"}',
    });
    assert.equal(post.status, 503);
    assert.equal(((await post.json()) as { code: string }).code, 'UPSTREAM_UNAVAILABLE');
    assert.equal(posts, 1, 'a POST is not sent twice');
  });

  test("the service's own problem answers pass through", async () => {
    assertProblem(await request(gateway).get('/api/v1/users/nope').set(bearer()), 404, 'NOT_FOUND');
  });

  test('a down upstream answers 503 UPSTREAM_UNAVAILABLE with Retry-After, fast', async () => {
    const started = performance.now();
    const res = await request(gateway).post('/api/v1/orgs').set(bearer()).send({ name: 'x' });
    const elapsed = performance.now() - started;
    assertProblem(res, 503, 'UPSTREAM_UNAVAILABLE');
    assert.equal(res.headers['retry-after'], '5');
    assert.ok(elapsed < 100, `took ${elapsed} ms`);
  });

  test('an upstream that does not answer in time gives 504 UPSTREAM_TIMEOUT', async () => {
    assertProblem(
      await request(gateway).get('/api/v1/comments?taskId=1').set(bearer()),
      504,
      'UPSTREAM_TIMEOUT',
    );
  });

  test('a body declared larger than the limit is refused before the service', async () => {
    const res = await request(gateway)
      .post('/api/v1/projects')
      .set({ ...bearer(), 'Content-Type': 'application/json' })
      .send(JSON.stringify({ pad: 'x'.repeat(2_000) }));
    assertProblem(res, 413, 'PAYLOAD_TOO_LARGE');
  });

  test('rate limits: RateLimit-* headers, per IP when anonymous and per user when signed in', async () => {
    const limited = gatewayWith({ config: { ...config, RATE_LIMIT_PER_IP: 3, RATE_LIMIT_PER_USER: 5 } }).app;
    for (let i = 0; i < 3; i += 1) {
      const ok = await request(limited).post('/api/v1/auth/login').send({});
      assert.equal(ok.headers['ratelimit-limit'], '3');
      assert.equal(ok.headers['ratelimit-remaining'], String(2 - i));
    }
    const refused = await request(limited).post('/api/v1/auth/login').send({});
    assertProblem(refused, 429, 'RATE_LIMITED');
    assert.ok(Number(refused.headers['retry-after']) >= 1);
    // A signed-in user has a budget of their own, not the exhausted IP's.
    const token = signer.sign();
    for (let i = 0; i < 5; i += 1)
      assert.equal((await request(limited).get('/api/v1/projects').set(bearer(token))).status, 200);
    assertProblem(await request(limited).get('/api/v1/projects').set(bearer(token)), 429, 'RATE_LIMITED');
  });

  test('a breaker opens on a failing upstream, answers 503 at once, and closes when it recovers', async () => {
    const port = await closedPort();
    const { app, breakers, metrics } = gatewayWith({
      upstreams: { ...upstreams, governance: `http://127.0.0.1:${port}` },
      config: { ...config, BREAKER_VOLUME: 3, BREAKER_RESET_MS: 300 },
    });
    try {
      for (let i = 0; i < 3; i += 1) {
        assertProblem(await request(app).get('/api/v1/orgs').set(bearer()), 503, 'UPSTREAM_UNAVAILABLE');
      }
      assert.match(
        await metrics.registry.metrics(),
        /gateway_breaker_open\{[^}]*upstream="governance"[^}]*\} 1/,
      );
      // The service comes back on the same port; after the reset delay one trial call closes the breaker.
      const back = express();
      back.get('/api/v1/orgs', (_req, res) => res.json({ items: [], nextCursor: null }));
      const server = createServer(back);
      servers.push(server);
      await listen(server, port, '127.0.0.1');
      await new Promise((resolve) => setTimeout(resolve, 350));
      const recovered = await request(app).get('/api/v1/orgs').set(bearer());
      assert.equal(recovered.status, 200);
      assert.match(
        await metrics.registry.metrics(),
        /gateway_breaker_open\{[^}]*upstream="governance"[^}]*\} 0/,
      );
    } finally {
      breakers.shutdown();
    }
  });

  test('4xx answers do not count against an upstream', async () => {
    const { app, breakers, metrics } = gatewayWith({
      config: { ...config, BREAKER_VOLUME: 2, BREAKER_RESET_MS: 60_000 },
    });
    try {
      for (let i = 0; i < 5; i += 1)
        assert.equal((await request(app).get('/api/v1/users/nope').set(bearer())).status, 404);
      assert.match(
        await metrics.registry.metrics(),
        /gateway_breaker_open\{[^}]*upstream="identity"[^}]*\} 0/,
      );
    } finally {
      breakers.shutdown();
    }
  });

  test('only unreachable, timed out, 502, 503 and 504 count against an upstream; a 500 does not', async () => {
    /** work here answers `?status=` (200 unless given). */
    const statuses = express();
    statuses.use((req, res) => res.status(Number(req.query.status ?? 200)).json({}));
    const work = await start(statuses);
    const breakerOf = async ({ metrics }: GatewayApp) =>
      /gateway_breaker_open\{[^}]*upstream="work"[^}]*\} (\d)/.exec(await metrics.registry.metrics())?.[1];
    const settings = { ...config, BREAKER_VOLUME: 3, BREAKER_RESET_MS: 60_000 };

    const caused = gatewayWith({ upstreams: { ...upstreams, work }, config: settings });
    try {
      for (let i = 0; i < 6; i += 1) {
        const res = await request(caused.app).get('/api/v1/tasks?status=500').set(bearer());
        assert.equal(res.status, 500, 'relayed as the service answered it');
      }
      assert.equal(await breakerOf(caused), '0', "500s are the requests' doing");
    } finally {
      caused.breakers.shutdown();
    }

    const unwell = gatewayWith({ upstreams: { ...upstreams, work }, config: settings });
    try {
      for (const status of [502, 503, 504])
        assert.equal(
          (await request(unwell.app).get(`/api/v1/tasks?status=${status}`).set(bearer())).status,
          status,
        );
      assert.equal(await breakerOf(unwell), '1');
      assertProblem(
        await request(unwell.app).get('/api/v1/tasks').set(bearer()),
        503,
        'UPSTREAM_UNAVAILABLE',
      );
    } finally {
      unwell.breakers.shutdown();
    }
  });

  test('one caller cannot open a breaker for everyone: failures past their budget are not counted', async () => {
    const statuses = express();
    statuses.use((req, res) => res.status(Number(req.query.status ?? 200)).json({}));
    const work = await start(statuses);
    const { app, breakers, metrics } = gatewayWith({
      upstreams: { ...upstreams, work },
      config: { ...config, BREAKER_VOLUME: 3, BREAKER_RESET_MS: 60_000, BREAKER_FAILURES_PER_CALLER: 2 },
    });
    const scrape = async () => await metrics.registry.metrics();
    const hostile = signer.sign({ sub: randomUUID() });
    try {
      for (let i = 0; i < 6; i += 1) {
        const res = await request(app).get('/api/v1/tasks?status=503').set(bearer(hostile));
        assert.equal(res.status, 503, 'every failure is still answered to its caller');
      }
      assert.match(await scrape(), /gateway_breaker_open\{[^}]*upstream="work"[^}]*\} 0/);
      assert.match(await scrape(), /gateway_breaker_unseen_failures_total\{[^}]*upstream="work"[^}]*\} 4/);
      // Past their budget the caller is still served while the breaker is closed.
      assert.equal((await request(app).get('/api/v1/tasks').set(bearer(hostile))).status, 200);
      // A second caller's failure is news: with the first one's two it reaches the volume, all failed.
      assert.equal((await request(app).get('/api/v1/tasks?status=503').set(bearer())).status, 503);
      assert.match(await scrape(), /gateway_breaker_open\{[^}]*upstream="work"[^}]*\} 1/);
      assertProblem(
        await request(app).get('/api/v1/tasks').set(bearer(hostile)),
        503,
        'UPSTREAM_UNAVAILABLE',
      );
    } finally {
      breakers.shutdown();
    }
  });

  test("the gateway decides the client address: a client's X-Forwarded-For reaches no service and moves no limit", async () => {
    const { app, breakers } = gatewayWith({ config: { ...config, RATE_LIMIT_PER_IP: 3 } });
    try {
      const spoofed = (i: number) => ({
        'X-Forwarded-For': `203.0.113.${i}, 10.0.0.${i}`,
        'X-Real-IP': `203.0.113.${i}`,
        Forwarded: `for=203.0.113.${i}`,
        'X-Forwarded-Host': 'evil.example',
      });
      for (let i = 1; i <= 3; i += 1) {
        const res = await request(app).get('/api/v1/auth/jwks').set(spoofed(i));
        assert.equal(
          res.headers['ratelimit-remaining'],
          String(3 - i),
          'one budget, whatever the header says',
        );
      }
      assertProblem(await request(app).get('/api/v1/auth/jwks').set(spoofed(4)), 429, 'RATE_LIMITED');

      await request(gateway)
        .get('/api/v1/projects')
        .set({ ...bearer(), ...spoofed(5) });
      const forwarded = seen.at(-1)?.headers ?? {};
      assert.match(String(forwarded['x-forwarded-for']), LOOPBACK, 'exactly the address the gateway saw');
      for (const name of ['x-real-ip', 'forwarded', 'x-forwarded-host'])
        assert.equal(forwarded[name], undefined, `${name} is not passed on`);
    } finally {
      breakers.shutdown();
    }
  });

  test('behind TRUSTED_PROXIES the proxy names the client, and only that address is forwarded', async () => {
    const { app, breakers } = gatewayWith({
      config: { ...config, RATE_LIMIT_PER_USER: 2, RATE_LIMIT_PER_IP: 2, TRUSTED_PROXIES: ['loopback'] },
    });
    try {
      // The trusted proxy (loopback here) appended the client it saw to what the client claimed.
      const via = (client: string) => ({ 'X-Forwarded-For': `198.51.100.1, ${client}` });
      await request(app)
        .get('/api/v1/projects')
        .set({ ...bearer(), ...via('203.0.113.9') });
      assert.equal(seen.at(-1)?.headers['x-forwarded-for'], '203.0.113.9');
      for (let i = 0; i < 2; i += 1)
        assert.equal((await request(app).get('/api/v1/auth/jwks').set(via('203.0.113.9'))).status, 404);
      assertProblem(await request(app).get('/api/v1/auth/jwks').set(via('203.0.113.9')), 429, 'RATE_LIMITED');
      const other = await request(app).get('/api/v1/auth/jwks').set(via('203.0.113.10'));
      assert.equal(other.headers['ratelimit-remaining'], '1', 'another client behind the proxy');
    } finally {
      breakers.shutdown();
    }
  });

  test('the Bearer scheme is matched case-insensitively', async () => {
    for (const scheme of ['bearer', 'BEARER', 'bEaReR'])
      assert.equal(
        (await request(gateway).get('/api/v1/projects').set('Authorization', `${scheme} ${signer.sign()}`))
          .status,
        200,
        scheme,
      );
  });

  test('unknown paths are the gateway’s own 404 problem; CORS is answered', async () => {
    assertProblem(await request(gateway).get('/api/v1/nothing-here').set(bearer()), 404, 'NOT_FOUND');
    const preflight = await request(gateway)
      .options('/api/v1/projects')
      .set('Origin', 'https://app.example')
      .set('Access-Control-Request-Method', 'POST');
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], '*');
  });

  test('GET /metrics is a 404 on the public port and served on the metrics port, breaker states included', async () => {
    const { app, breakers, metrics } = gatewayWith();
    const served = await serveMetrics({ metrics, host: '127.0.0.1', port: 0, logger: testLogger('gateway') });
    try {
      assertProblem(await request(app).get('/metrics'), 404, 'NOT_FOUND');
      assertProblem(await request(app).get('/metrics').set(bearer()), 404, 'NOT_FOUND');
      const res = await fetch(`http://127.0.0.1:${served.port}/metrics`);
      assert.equal(res.status, 200);
      const text = await res.text();
      assert.match(text, /gateway_breaker_state\{[^}]*upstream="work"[^}]*state="closed"[^}]*\} 1/);
      assert.match(text, /gateway_breaker_state\{[^}]*upstream="work"[^}]*state="open"[^}]*\} 0/);
      assert.equal((await fetch(`http://127.0.0.1:${served.port}/api/v1/orgs`)).status, 404);
    } finally {
      breakers.shutdown();
      await served.close();
    }
  });

  test('/health aggregates upstream readiness; docs are served', async () => {
    const res = await request(gateway).get('/health');
    assert.equal(res.status, 503);
    assert.deepEqual(res.body, {
      status: 'degraded',
      services: { identity: 'up', governance: 'down', work: 'up', collab: 'down', notify: 'down' },
    });
    const docs = await request(gateway).get('/api/docs');
    assert.match(docs.text, /swagger-ui-bundle\.js/);
    assert.equal((await request(gateway).get('/api/docs/assets/swagger-ui-bundle.js')).status, 200);
    const openapi = await request(gateway).get('/api/openapi.json');
    assert.equal(openapi.body.openapi, '3.1.0');
    const unavailable = openapi.body['x-unavailable'] as string[];
    for (const down of ['collab', 'governance', 'notify'])
      assert.ok(unavailable.includes(down), `${down} is listed`);
    assert.ok(!unavailable.includes('work'), 'a reachable service is merged, not listed');
  });

  describe('WebSockets', () => {
    const wss = new WebSocketServer({ noServer: true });
    /** Upstream sockets notify holds, to see them end, and notify's WebSockets on them. */
    const upstreamSockets: Duplex[] = [];
    const upstreamClients: WebSocket[] = [];
    let port: number;

    /** A gateway front whose /ws goes to `notifyUrl`; returns its port. */
    async function front(notifyUrl: string): Promise<number> {
      const server = createServer(gateway);
      const { breakers, clientAddress, pool } = gatewayWith({
        upstreams: { ...upstreams, notify: notifyUrl },
      });
      server.on(
        'upgrade',
        webSocketGate({
          pool,
          resolveKey: signer.resolveKey,
          revocations,
          breakers,
          clientAddress,
          timeoutMs: config.PROXY_TIMEOUT_MS,
          logger: testLogger('ws'),
        }),
      );
      servers.push(server);
      return listen(server, 0, '127.0.0.1');
    }

    /** The status and body of a refused upgrade (101 when it was accepted). */
    function upgradeAnswer(
      url: string,
    ): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(url);
        ws.on('unexpected-response', (_req, res) => {
          let body = '';
          res.on('data', (chunk) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        });
        ws.on('open', () => {
          ws.close();
          resolve({ status: 101, headers: {}, body: '' });
        });
        ws.on('error', (err) =>
          err.message.startsWith('Unexpected server response') ? undefined : reject(err),
        );
      });
    }

    /** A socket that received notify's welcome. */
    function connect(token: string): Promise<WebSocket> {
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?access_token=${token}`);
        ws.once('message', (data) => {
          assert.equal(JSON.parse(String(data)).type, 'welcome');
          resolve(ws);
        });
        ws.on('error', reject);
      });
    }

    before(async () => {
      const notify = createServer();
      notify.on('upgrade', (req, socket, head) => {
        upstreamSockets.push(socket);
        wss.handleUpgrade(req, socket, head, (ws) => {
          upstreamClients.push(ws);
          ws.send(
            JSON.stringify({ type: 'welcome', path: req.url, forwardedFor: req.headers['x-forwarded-for'] }),
          );
        });
      });
      servers.push(notify);
      port = await front(`http://127.0.0.1:${await listen(notify, 0, '127.0.0.1')}`);
    });

    after(() => wss.close());

    test('upgrades need a valid token and are proxied to notify', async () => {
      const refused = await upgradeAnswer(`ws://127.0.0.1:${port}/ws`);
      assert.equal(refused.status, 401, 'no token: refused before the upgrade');
      assert.equal(JSON.parse(refused.body).code, 'UNAUTHENTICATED');
      const ws = await connect(signer.sign());
      // The upgrade's timeout ends with the upgrade: a quiet socket outlives PROXY_TIMEOUT_MS.
      await new Promise((resolve) => setTimeout(resolve, config.PROXY_TIMEOUT_MS * 2));
      assert.equal(ws.readyState, WebSocket.OPEN);
      ws.close();
    });

    test("notify gets the client address the gateway saw, not the client's X-Forwarded-For", async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?access_token=${signer.sign()}`, {
        headers: { 'X-Forwarded-For': '203.0.113.7', Forwarded: 'for=203.0.113.7' },
      });
      const welcome = await new Promise<{ forwardedFor?: string }>((resolve, reject) => {
        ws.once('message', (data) => resolve(JSON.parse(String(data))));
        ws.on('error', reject);
      });
      ws.close();
      assert.match(String(welcome.forwardedFor), LOOPBACK);
    });

    test('a down notify answers 503 UPSTREAM_UNAVAILABLE with Retry-After, fast', async () => {
      const downPort = await front(`http://127.0.0.1:${await closedPort()}`);
      const started = Date.now();
      const answer = await upgradeAnswer(`ws://127.0.0.1:${downPort}/ws?access_token=${signer.sign()}`);
      assert.equal(answer.status, 503);
      assert.equal(answer.headers['retry-after'], '5');
      assert.equal(JSON.parse(answer.body).code, 'UPSTREAM_UNAVAILABLE');
      assert.ok(Date.now() - started < 1_000, 'answered without waiting for a timeout');
    });

    test('a notify that does not answer the upgrade in time gives 504 UPSTREAM_TIMEOUT', async () => {
      const silent = createServer();
      // Never answers; once the gateway gives up, it lets the connection go (upgraded sockets are its own).
      silent.on('upgrade', (_req, socket: Duplex) => socket.once('end', () => socket.destroy()));
      servers.push(silent);
      const silentPort = await front(`http://127.0.0.1:${await listen(silent, 0, '127.0.0.1')}`);
      const answer = await upgradeAnswer(`ws://127.0.0.1:${silentPort}/ws?access_token=${signer.sign()}`);
      assert.equal(answer.status, 504);
      assert.equal(JSON.parse(answer.body).code, 'UPSTREAM_TIMEOUT');
    });

    test("notify's close frame for a revoked token reaches the client before the gateway would cut", async () => {
      const jti = randomUUID();
      const ws = await connect(signer.sign({ jti }));
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      revoke(jti);
      // notify heard of it too (its own consumer) and closes the socket, well within the grace.
      upstreamClients.at(-1)!.close(4002, 'access token revoked');
      assert.equal(await closed, 4002);
    });

    test('an open socket notify does not close is cut, notify side included, once its token is revoked', async () => {
      const jti = randomUUID();
      const token = signer.sign({ jti });
      const ws = await connect(token);
      const other = await connect(signer.sign());
      const upstream = upstreamSockets.at(-2)!; // the first of the two
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      const upstreamClosed = new Promise<void>((resolve) => upstream.once('close', () => resolve()));
      revoke(jti);
      const revokedAt = Date.now();
      assert.equal(await closed, 1006, 'the connection dropped (the gateway relays frames, it writes none)');
      assert.ok(Date.now() - revokedAt >= 900, 'after the grace left for notify to close it');
      await upstreamClosed;
      assert.equal(other.readyState, WebSocket.OPEN, 'a socket of another token stays open');
      other.close();
      assert.equal((await upgradeAnswer(`ws://127.0.0.1:${port}/ws?access_token=${token}`)).status, 401);
    });
  });
});
