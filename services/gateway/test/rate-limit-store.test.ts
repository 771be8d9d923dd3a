import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { QueryTypes, type Sequelize } from 'sequelize';
import request from 'supertest';
import { createSequelize, createServiceApp, PendingMigrationsError } from '@trellis/shared';
import {
  asRuntimeRole,
  assertProblem,
  closedPort,
  createTestDatabase,
  metricValue,
  migrateTestDatabase,
  testLogger,
  type TestDatabase,
} from '@trellis/shared/testing';
import { apiRateLimit } from '../src/limits/limits.ts';
import { openRateLimitStore } from '../src/limits/rate-limit-store.ts';
import { SharedRateLimitStore, type SharedRateLimitStoreOptions } from '../src/limits/shared-store.ts';
import { migrations } from '../src/migrations/index.ts';

const WINDOW_MS = 60_000;
const logger = testLogger('gateway');

/** Three gateway replicas: a connection pool each, on one database. */
describe('the shared rate-limit store', () => {
  let db: TestDatabase;
  let pools: Sequelize[];
  const stores: SharedRateLimitStore[] = [];
  /** The stores' clock: a second into a window, moved by the tests that cross windows. */
  let now = Math.floor(Date.now() / WINDOW_MS) * WINDOW_MS + 1_000;

  function replica(sequelize: Sequelize, limit: number, options: Partial<SharedRateLimitStoreOptions> = {}) {
    const registry = new Registry();
    const store = new SharedRateLimitStore({
      sequelize,
      limitFor: () => limit,
      logger,
      registry,
      now: () => now,
      ...options,
    });
    stores.push(store);
    return Object.assign(store, { registry });
  }

  const replicas = (limit: number) => pools.map((sequelize) => replica(sequelize, limit));

  async function rowsOf(key: string) {
    return pools[0]!.query<{ window_start: Date; used: number }>(
      'SELECT window_start, used FROM rate_limit WHERE key = $1 ORDER BY window_start',
      { bind: [key], type: QueryTypes.SELECT },
    );
  }

  before(async () => {
    db = await createTestDatabase('gateway-rate-limit');
    // As deployed: the migration step as the database's owner, the replicas as the runtime role.
    await migrateTestDatabase(db.url, migrations, logger);
    pools = [1, 2, 3].map(() => createSequelize(asRuntimeRole(db.url), logger));
  });

  after(async () => {
    for (const store of stores) store.shutdown();
    await Promise.all(pools.map((sequelize) => sequelize.close()));
    await db.drop();
  });

  test('three replicas hammered at once grant the limit of one, never more', async () => {
    const three = replicas(600);
    const key = 'user:hammered';
    const answers = await Promise.all(Array.from({ length: 1_500 }, (_, i) => three[i % 3]!.increment(key)));
    const granted = answers.filter(({ totalHits }) => totalHits <= 600).length;
    assert.ok(granted >= 570 && granted <= 600, `granted ${granted} of 600`);
    const [row] = await rowsOf(key);
    assert.ok(row && row.used <= 600, `the shared count ${row?.used} never passes the limit`);
    for (const { resetTime } of answers) assert.equal(resetTime?.getTime(), now - 1_000 + WINDOW_MS);
  });

  test('many callers at once, in a different order on each replica: batched, no deadlock, each held to its limit', async () => {
    const three = replicas(10);
    const keys = Array.from({ length: 200 }, (_, i) => `ip:203.0.113.${i}`);
    const shuffled = (replica: number) =>
      replica === 1 ? [...keys].reverse() : replica === 2 ? keys.filter((_, i) => i % 2).concat(keys) : keys;
    const answers = await Promise.all(
      three.flatMap((store, replica) =>
        Array.from({ length: 6 }, () =>
          shuffled(replica).map(async (key) => ({ key, hits: (await store.increment(key)).totalHits })),
        ).flat(),
      ),
    );
    const granted = new Map<string, number>();
    for (const { key, hits } of answers) if (hits <= 10) granted.set(key, (granted.get(key) ?? 0) + 1);
    assert.deepEqual(new Set(granted.values()), new Set([10]), 'every caller got exactly its 10');
    for (const store of three)
      assert.equal(
        metricValue(await store.registry.metrics(), 'gateway_rate_limit_store_errors_total'),
        undefined,
      );
  });

  test('a caller gone quiet on one replica strands at most its lease (1 % of the limit)', async () => {
    const [busy, other, quiet] = replicas(600);
    const key = 'user:moved-on';
    // The caller's first requests land on one replica (its lease grows to the cap), then never again.
    let granted = 0;
    for (let i = 0; i < 10; i += 1) if ((await quiet!.increment(key)).totalHits <= 600) granted += 1;
    const answers = await Promise.all(
      Array.from({ length: 1_200 }, (_, i) => (i % 2 ? busy! : other!).increment(key)),
    );
    granted += answers.filter(({ totalHits }) => totalHits <= 600).length;
    assert.ok(granted >= 600 - 2 * 6 && granted <= 600, `granted ${granted} of 600`);
  });

  test('RateLimit-Remaining follows the shared count, and the 429 is the usual problem', async () => {
    const app = (sequelize: Sequelize) => {
      const store = replica(sequelize, 3);
      const service = createServiceApp({ service: 'gateway', logger, readiness: [], jsonBody: false });
      service.app.use(apiRateLimit({ perUser: 3, perIp: 3 }, store));
      service.app.get('/api/v1/ping', (_req, res) => res.json({ pong: true }));
      return service.finish();
    };
    const [a, b] = [app(pools[0]!), app(pools[1]!)];
    const remaining: string[] = [];
    for (const replica of [a, b, a]) {
      const res = await request(replica).get('/api/v1/ping');
      assert.equal(res.status, 200);
      assert.equal(res.headers['ratelimit-limit'], '3');
      remaining.push(String(res.headers['ratelimit-remaining']));
    }
    assert.deepEqual(remaining, ['2', '1', '0'], 'one budget, whichever replica answers');
    const refused = await request(b).get('/api/v1/ping');
    assertProblem(refused, 429, 'RATE_LIMITED');
    assert.ok(Number(refused.headers['retry-after']) >= 1);
  });

  test('a new window starts afresh on every replica', async () => {
    const [a, b] = replicas(5);
    const key = 'ip:198.51.100.7';
    const first = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a! : b!).increment(key)));
    assert.equal(first.filter(({ totalHits }) => totalHits <= 5).length, 5);
    now += WINDOW_MS;
    try {
      const next = await a!.increment(key);
      assert.equal(next.totalHits, 1);
      const second = await Promise.all(Array.from({ length: 9 }, (_, i) => (i % 2 ? a! : b!).increment(key)));
      assert.equal(second.filter(({ totalHits }) => totalHits <= 5).length, 4);
      assert.deepEqual(
        (await rowsOf(key)).map(({ used }) => used),
        [5, 5],
      );
    } finally {
      now -= WINDOW_MS;
    }
  });

  test('the prune deletes the windows that ended more than a window ago', async () => {
    const saved = now;
    const [store] = replicas(10);
    const key = 'user:pruned';
    // Windows long ago, so the other tests' are not in the way.
    const windows = [100, 99, 98, 97].map((ago) => now - 1_000 - ago * WINDOW_MS);
    try {
      for (const start of windows) {
        now = start + 1_000;
        await store!.increment(key);
      }
      assert.equal((await rowsOf(key)).length, 4);
      assert.ok((await store!.prune(windows[3]! + 5_000)) >= 2);
      assert.deepEqual(
        (await rowsOf(key)).map(({ window_start }) => window_start.getTime()),
        windows.slice(2),
        'the current window and the one before it are kept',
      );
    } finally {
      now = saved;
    }
  });

  describe('as the gateway opens it (RATE_LIMIT_STORE)', () => {
    const settings = { RATE_LIMIT_PER_USER: 600, RATE_LIMIT_PER_IP: 300 };

    test('memory: no store, so express-rate-limit counts in the process', async () => {
      const opened = await openRateLimitStore(
        { ...settings, RATE_LIMIT_STORE: 'memory', DATABASE_URL: db.url },
        logger,
        new Registry(),
      );
      assert.deepEqual(opened, { store: undefined, readiness: [], stopSteps: [] });
    });

    test('postgres: the migrated database as the runtime role; a readiness check that only degrades it', async () => {
      const opened = await openRateLimitStore(
        { ...settings, RATE_LIMIT_STORE: 'postgres', DATABASE_URL: asRuntimeRole(db.url) },
        logger,
        new Registry(),
      );
      try {
        assert.equal((await opened.store!.increment('user:opened')).totalHits, 1);
        assert.deepEqual(
          opened.readiness.map(({ name, critical }) => ({ name, critical })),
          [{ name: 'postgres', critical: false }],
        );
        await opened.readiness[0]!.check();
      } finally {
        for (const step of opened.stopSteps) await step.run();
      }
      assert.deepEqual(
        opened.stopSteps.map(({ name }) => name),
        ['rate-limit store', 'postgres'],
      );
    });

    test('postgres with its migration pending: the gateway does not start', async () => {
      const fresh = await createTestDatabase('gateway-unmigrated');
      try {
        await assert.rejects(
          openRateLimitStore(
            { ...settings, RATE_LIMIT_STORE: 'postgres', DATABASE_URL: fresh.url },
            logger,
            new Registry(),
          ),
          (err: unknown) => err instanceof PendingMigrationsError && /0001-rate-limit/.test(err.message),
        );
      } finally {
        await fresh.drop();
      }
    });
  });

  describe('PostgreSQL unreachable', () => {
    /** A warning log that can be read back. */
    function capturingLogger() {
      const lines: Array<{ msg: string }> = [];
      const captured = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line)) });
      return { logger: captured, lines };
    }
    const errors = async (registry: Registry) =>
      metricValue(await registry.metrics(), 'gateway_rate_limit_store_errors_total', {
        operation: 'reserve',
      });

    test('refused: this replica counts alone until the window ends, and says so once', async () => {
      const down = createSequelize(
        `postgres://postgres:postgres@127.0.0.1:${await closedPort()}/trellis_gateway`,
        logger,
      );
      const { logger: warnings, lines } = capturingLogger();
      const store = replica(down, 3, { logger: warnings });
      try {
        const hits = [];
        for (let i = 0; i < 4; i += 1) hits.push((await store.increment('user:offline')).totalHits);
        assert.deepEqual(hits, [1, 2, 3, 4], 'three served, the fourth refused');
        assert.equal(await errors(store.registry), 1, 'one failed reservation: the window is local now');
        assert.equal(lines.length, 1);
        assert.match(lines[0]!.msg, /counts alone until the window ends/);

        now += WINDOW_MS;
        assert.equal((await store.increment('user:offline')).totalHits, 1, 'a new window asks again');
        assert.equal(await errors(store.registry), 2);
      } finally {
        now -= WINDOW_MS;
        await down.close();
      }
    });

    test('not answering: a reservation gives up after its timeout and the request is served', async () => {
      const sockets = new Set<Socket>();
      const silent = createServer((socket) => sockets.add(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const { port } = silent.address() as AddressInfo;
      const hung = createSequelize(`postgres://postgres:postgres@127.0.0.1:${port}/trellis_gateway`, logger);
      const store = replica(hung, 3, { timeoutMs: 200 });
      try {
        const started = performance.now();
        const answers = await Promise.all([1, 2].map(() => store.increment('user:stuck')));
        const waited = performance.now() - started;
        assert.deepEqual(answers.map(({ totalHits }) => totalHits).sort(), [1, 2]);
        assert.ok(waited >= 190 && waited < 1_000, `waited ${Math.round(waited)} ms`);
        assert.equal(await errors(store.registry), 1, 'the concurrent requests shared one attempt');
        const later = performance.now();
        await store.increment('user:stuck');
        assert.ok(performance.now() - later < 50, 'no further attempt in this window');
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => silent.close(resolve));
        await hung.close();
      }
    });
  });
});
