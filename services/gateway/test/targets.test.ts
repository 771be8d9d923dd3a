import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { after, describe, test } from 'node:test';
import { listen } from '@trellis/shared';
import { closedPort, stopServers, testLogger, testSigner } from '@trellis/shared/testing';
import { buildApp, type AppDeps } from '../src/app.ts';
import { testSettings } from './settings.ts';
import { UPSTREAMS, type Upstream, type UpstreamUrls } from '../src/routing/upstreams.ts';

const signer = testSigner();
const config: AppDeps['config'] = {
  ...testSettings,
  PROXY_TIMEOUT_MS: 2_000,
  BODY_LIMIT_BYTES: 10_000,
  RATE_LIMIT_PER_USER: 100_000,
  RATE_LIMIT_PER_IP: 100_000,
  BREAKER_FAILURES_PER_CALLER: 100,
};
const bearer = () => ({ Authorization: `Bearer ${signer.sign()}` });

/** A replica of `work` that records what it got; `ready` decides its readiness answer. */
function replica(
  name: string,
  options: { ready?: () => boolean; onRequest?: (req: IncomingMessage, res: ServerResponse) => boolean } = {},
) {
  const got: Array<{ method: string; body: string }> = [];
  const server = createServer((req, res) => {
    if (req.url === '/health/ready') {
      const ready = options.ready?.() ?? true;
      res.writeHead(ready ? 200 : 503, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ status: ready ? 'ok' : 'draining' }));
      return;
    }
    if (options.onRequest?.(req, res)) return;
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      got.push({ method: req.method ?? '', body });
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ replica: name, body }));
    });
  });
  return { server, got };
}

describe('upstream targets', () => {
  const servers: Server[] = [];
  after(() => stopServers(servers));

  async function serve(server: Server): Promise<string> {
    servers.push(server);
    return `http://127.0.0.1:${await listen(server, 0, '127.0.0.1')}`;
  }

  async function gatewayTo(work: string[]) {
    const down = `http://127.0.0.1:${await closedPort()}`;
    const upstreams = Object.fromEntries(
      UPSTREAMS.map((u: Upstream) => [u, u === 'work' ? work : [down]]),
    ) as UpstreamUrls;
    const built = buildApp({
      config,
      logger: testLogger('gateway'),
      readiness: [],
      upstreams,
      resolveKey: signer.resolveKey,
      isRevoked: () => false,
    });
    return { ...built, base: await serve(createServer(built.app)) };
  }

  const rotation = async (metrics: { registry: { metrics: () => Promise<string> } }) =>
    Number(
      /gateway_upstream_targets_in_rotation\{[^}]*upstream="work"[^}]*\} (\d+)/.exec(
        await metrics.registry.metrics(),
      )?.[1],
    );

  test('requests are spread over the replicas, round-robin', async () => {
    const a = replica('a');
    const b = replica('b');
    const { base, pool, breakers } = await gatewayTo([await serve(a.server), await serve(b.server)]);
    try {
      for (let i = 0; i < 20; i += 1) {
        const res = await fetch(`${base}/api/v1/projects`, { headers: bearer() });
        assert.equal(res.status, 200);
        await res.text();
      }
      assert.deepEqual([a.got.length, b.got.length], [10, 10]);
    } finally {
      pool.stop();
      breakers.shutdown();
    }
  });

  test('a replica that refuses connections is ejected; idempotent requests, bodies included, go to the other', async () => {
    const live = replica('live');
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const { base, pool, breakers, metrics } = await gatewayTo([dead, await serve(live.server)]);
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i += 1) {
        const post = await fetch(`${base}/api/v1/projects`, {
          method: 'POST',
          headers: { ...bearer(), 'Content-Type': 'application/json', 'Idempotency-Key': `k-${i}` },
          body: JSON.stringify({ n: i }),
        });
        statuses.push(post.status);
        assert.deepEqual(await post.json(), { replica: 'live', body: JSON.stringify({ n: i }) });
      }
      assert.deepEqual(statuses, Array(6).fill(200));
      assert.equal(live.got.length, 6, 'each POST reached the live replica once');
      assert.equal(await rotation(metrics), 1, 'the refusing replica is out of rotation');
    } finally {
      pool.stop();
      breakers.shutdown();
    }
  });

  test('a draining replica (readiness 503) leaves the rotation at the next check and comes back when ready', async () => {
    let draining = false;
    const a = replica('a', { ready: () => !draining });
    const b = replica('b');
    const { base, pool, breakers, metrics } = await gatewayTo([await serve(a.server), await serve(b.server)]);
    try {
      draining = true;
      await pool.checkAll();
      assert.equal(await rotation(metrics), 1);
      for (let i = 0; i < 6; i += 1)
        await (await fetch(`${base}/api/v1/projects`, { headers: bearer() })).text();
      assert.deepEqual([a.got.length, b.got.length], [0, 6], 'none reached the draining replica');
      draining = false;
      await pool.checkAll();
      assert.equal(await rotation(metrics), 2);
    } finally {
      pool.stop();
      breakers.shutdown();
    }
  });

  test('a reset before any answer: sent again with an Idempotency-Key, answered 503 without one', async () => {
    // Replica a resets every POST's connection before answering (a crash mid-request).
    const a = replica('a', {
      onRequest: (req) => {
        if (req.method !== 'POST') return false;
        req.socket.destroy();
        return true;
      },
    });
    const b = replica('b');
    const aUrl = await serve(a.server);
    const both = await gatewayTo([aUrl, await serve(b.server)]);
    const alone = await gatewayTo([aUrl]);
    const post = (base: string, headers: Record<string, string>) =>
      fetch(`${base}/api/v1/projects`, {
        method: 'POST',
        headers: { ...bearer(), 'Content-Type': 'application/json', ...headers },
        body: '{"name":"x"}',
      });
    try {
      // Round-robin: the first request goes to a.
      const keyed = await post(both.base, { 'Idempotency-Key': 'k-1' });
      assert.equal(keyed.status, 200);
      assert.deepEqual(await keyed.json(), { replica: 'b', body: '{"name":"x"}' }, 'sent again to b');
      const unkeyed = await post(alone.base, {});
      assert.equal(unkeyed.status, 503, 'it may have been handled: the caller is told');
      assert.equal(((await unkeyed.json()) as { code: string }).code, 'UPSTREAM_UNAVAILABLE');
      assert.equal(b.got.length, 1);
    } finally {
      for (const gateway of [both, alone]) {
        gateway.pool.stop();
        gateway.breakers.shutdown();
      }
    }
  });

  test('a chunked body over the limit, kept to be sent again, is refused with 413 and reaches no replica', async () => {
    const a = replica('a');
    const { base, pool, breakers } = await gatewayTo([await serve(a.server)]);
    try {
      const big = new ReadableStream({
        start(controller) {
          for (let i = 0; i < 12; i += 1) controller.enqueue(new TextEncoder().encode('x'.repeat(1_000)));
          controller.close();
        },
      });
      const res = await fetch(`${base}/api/v1/projects`, {
        method: 'POST',
        headers: { ...bearer(), 'Content-Type': 'application/json', 'Idempotency-Key': 'big' },
        body: big,
        duplex: 'half',
      } as RequestInit);
      assert.equal(res.status, 413);
      assert.equal(a.got.length, 0);
    } finally {
      pool.stop();
      breakers.shutdown();
    }
  });
});
