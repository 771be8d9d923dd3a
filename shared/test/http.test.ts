import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import request from 'supertest';
import { z } from 'zod';
import {
  AppError,
  ConfigError,
  baseEnvSchema,
  createLogger,
  createServiceApp,
  decodeCursor,
  encodeCursor,
  limitSchema,
  loadConfig,
  mountRoutes,
  pageOf,
  redactUrl,
  REDACTED_PATHS,
  route,
  serializeError,
  validate,
} from '../src/index.ts';
import { assertProblem } from '../src/testing/index.ts';

const logger = createLogger('http-test', 'silent');

function appWithRoutes() {
  const { app, finish } = createServiceApp({ service: 'http-test', logger, readiness: [], bodyLimit: '1kb' });
  const body = z.object({ name: z.string().min(1).max(20), age: z.number().int().min(0) });
  const query = z.object({ limit: limitSchema });
  const params = z.object({ id: z.uuid() });
  app.post('/things/:id', validate({ params, query, body }), (req, res) => {
    res.status(201).json({ id: req.params.id, limit: req.query.limit, ...req.body });
  });
  app.get('/boom', () => {
    throw new Error('secret internal detail');
  });
  app.get('/denied', () => {
    throw new AppError(403, 'POLICY_DENIED', { extensions: { policy: { action: 'x' } } });
  });
  return finish();
}

describe('HTTP building blocks', () => {
  const app = appWithRoutes();
  const id = '3f1c2a4e-8b7d-4c1e-9f0a-2b3c4d5e6f70';

  test('valid input reaches the handler parsed (coerced query, defaults)', async () => {
    const res = await request(app).post(`/things/${id}?limit=7`).send({ name: 'Ada', age: 36 });
    assert.equal(res.status, 201);
    assert.deepEqual(res.body, { id, limit: 7, name: 'Ada', age: 36 });
    const defaults = await request(app).post(`/things/${id}`).send({ name: 'Ada', age: 1 });
    assert.equal(defaults.body.limit, 50);
  });

  test('every offending field is listed, prefixed by where it came from', async () => {
    const res = await request(app).post('/things/not-a-uuid?limit=500').send({ name: '', age: 'old' });
    assertProblem(res, 400, 'VALIDATION_FAILED');
    const paths = (res.body.errors as Array<{ path: string }>).map((e) => e.path).sort();
    assert.deepEqual(paths, ['body.age', 'body.name', 'params.id', 'query.limit']);
  });

  test('empty, wrongly typed, oversized and non-JSON bodies are clean 4xx problems', async () => {
    assertProblem(await request(app).post(`/things/${id}`), 400, 'VALIDATION_FAILED');
    assertProblem(await request(app).post(`/things/${id}`).send([1, 2]), 400, 'VALIDATION_FAILED');
    assertProblem(
      await request(app)
        .post(`/things/${id}`)
        .send({ name: 'x'.repeat(5_000), age: 1 }),
      413,
      'PAYLOAD_TOO_LARGE',
    );
    const text = await request(app).post(`/things/${id}`).set('Content-Type', 'text/plain').send('hello');
    assertProblem(text, 400, 'VALIDATION_FAILED');
  });

  test('programmer errors become a bare 500 that leaks nothing', async () => {
    const res = await request(app).get('/boom');
    assertProblem(res, 500, 'INTERNAL');
    assert.doesNotMatch(JSON.stringify(res.body), /secret internal detail/);
  });

  test('problem extensions such as `policy` are kept', async () => {
    const res = await request(app).get('/denied');
    assertProblem(res, 403, 'POLICY_DENIED');
    assert.deepEqual(res.body.policy, { action: 'x' });
  });

  test('request logs carry no credential from the query string', async () => {
    const lines: string[] = [];
    const capture = pino({ redact: REDACTED_PATHS }, { write: (line: string) => void lines.push(line) });
    const { finish } = createServiceApp({ service: 'log-test', logger: capture, readiness: [] });
    const secret = 'eyJhbGciOiJFZERTQSJ9.secret.signature';
    await request(finish()).get(`/ws?channel=x&access_token=${secret}&limit=5`);
    const logged = lines.map((line) => JSON.parse(line) as { req?: { url: string } }).find((l) => l.req);
    assert.equal(logged?.req?.url, '/ws?channel=x&access_token=[redacted]&limit=5');
    assert.ok(!lines.join('').includes(secret));
    assert.equal(redactUrl('/a?token=t1&code=123456#f'), '/a?token=[redacted]&code=[redacted]#f');
    assert.equal(redactUrl('/a?tokens=1&mycode=2'), '/a?tokens=1&mycode=2', 'only those exact names');
  });

  test('one access line per answered request, none for probes and scrapes; 5xx at error level', async () => {
    const lines: string[] = [];
    const capture = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const { app, finish } = createServiceApp({ service: 'log-test', logger: capture, readiness: [] });
    app.get('/fails', () => {
      throw new Error('boom');
    });
    const served = finish();
    await request(served).get('/health/live').set('X-Request-Id', 'probe-1');
    await request(served).get('/metrics');
    await request(served).get('/nowhere?limit=5').set('X-Request-Id', 'req-404');
    await request(served).get('/fails').set('X-Request-Id', 'req-500');
    type Line = { level: number; msg: string; req?: { id: string; method: string; url: string } } & Record<
      string,
      unknown
    >;
    const access = lines.map((line) => JSON.parse(line) as Line).filter((line) => line.req);
    assert.deepEqual(
      access.map(({ level, msg, req, res }) => ({ level, msg, req, res })),
      [
        {
          level: 30,
          msg: 'request completed',
          req: { id: 'req-404', method: 'GET', url: '/nowhere?limit=5' },
          res: { statusCode: 404 },
        },
        {
          level: 50,
          msg: 'request errored',
          req: { id: 'req-500', method: 'GET', url: '/fails' },
          res: { statusCode: 500 },
        },
      ],
    );
    assert.ok(access.every((line) => typeof line.responseTime === 'number'));
    assert.ok(!lines.join('').includes('probe-1'), 'health probes are not logged');
  });

  test('one-time codes are redacted from logged mail requests; error codes are kept', () => {
    const lines: string[] = [];
    const capture = pino(
      { redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, serializers: { err: serializeError } },
      {
        write: (line: string) => void lines.push(line),
      },
    );
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    capture.error({ err: refused }, 'database down');
    // A client library's wrapper (kafkajs gives up after its retries) names the refused connection too.
    const gaveUp = new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9092', {
      cause: new Error('wrapped', { cause: refused }),
    });
    const mail = {
      template: 'verify-email',
      to: 'ada@example.test',
      params: { code: '123456', name: 'Ada' },
    };
    capture.warn({ event: { id: 'e1', data: mail } }, 'mail event parked');
    capture.warn({ request: mail }, 'mail request refused');
    capture.warn(mail, 'mail request refused');
    capture.error({ err: gaveUp }, 'outbox relay pass failed');
    type Logged = {
      err?: { code?: string };
      event?: { data?: { params?: { code?: string } } };
      request?: { params?: { code?: string } };
      params?: { code?: string };
    };
    const logged = lines.map((line) => JSON.parse(line) as Logged);
    assert.equal(logged[0]?.err?.code, 'ECONNREFUSED');
    assert.equal(logged[4]?.err?.code, 'ECONNREFUSED');
    assert.equal(logged[1]?.event?.data?.params?.code, '[redacted]');
    assert.equal(logged[2]?.request?.params?.code, '[redacted]');
    assert.equal(logged[3]?.params?.code, '[redacted]');
    assert.ok(!lines.join('').includes('123456'));
  });

  test('keyset cursors round-trip and reject tampering', () => {
    const position = { updatedAt: '2026-01-01T00:00:00.000Z', id: 'abc' };
    const schema = z.object({ updatedAt: z.iso.datetime(), id: z.string() });
    assert.deepEqual(decodeCursor(encodeCursor(position), schema), position);
    assert.throws(
      () => decodeCursor('not-base64-json', schema),
      (err) => err instanceof AppError && err.status === 400,
    );
    assert.throws(
      () => decodeCursor(encodeCursor({ id: 1 }), schema),
      (err) => err instanceof AppError,
    );
  });

  test('pageOf uses the extra row only to decide whether there is a next page', () => {
    const rows = [1, 2, 3].map((n) => ({ n }));
    const full = pageOf(
      rows,
      2,
      (r) => r.n,
      (r) => ({ n: r.n }),
    );
    assert.deepEqual(full.items, [1, 2]);
    assert.deepEqual(decodeCursor(full.nextCursor ?? '', z.object({ n: z.number() })), { n: 2 });
    assert.deepEqual(
      pageOf(
        rows,
        3,
        (r) => r.n,
        (r) => r,
      ),
      { items: [1, 2, 3], nextCursor: null },
    );
  });

  test('configuration fails fast listing every problem', () => {
    assert.throws(
      () => loadConfig(baseEnvSchema, { PORT: 'eighty', LOG_LEVEL: 'loud' }),
      (err) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.issues.map((i) => i.split(':')[0]).sort(), [
          'KAFKA_BROKERS',
          'LOG_LEVEL',
          'PORT',
        ]);
        return true;
      },
    );
    const config = loadConfig(baseEnvSchema, { PORT: '8080', KAFKA_BROKERS: 'a:1, b:2' });
    assert.deepEqual(config.KAFKA_BROKERS, ['a:1', 'b:2']);
    assert.equal(config.LOG_LEVEL, 'info');
  });

  test('readiness: a down database is unavailable (503); a down Kafka only degraded (200), and both show in metrics', async () => {
    const down = () => Promise.reject(new Error('ECONNREFUSED'));
    const up = () => Promise.resolve();
    const ready = async (db: () => Promise<void>, kafka: () => Promise<void>) => {
      const { finish } = createServiceApp({
        service: 'ready-test',
        logger,
        readiness: [
          { name: 'postgres', check: db },
          { name: 'kafka', check: kafka, critical: false },
        ],
      });
      const app = finish();
      return { ready: await request(app).get('/health/ready'), metrics: await request(app).get('/metrics') };
    };

    const healthy = await ready(up, up);
    assert.equal(healthy.ready.status, 200);
    assert.deepEqual(healthy.ready.body, { status: 'ok', checks: { postgres: 'up', kafka: 'up' } });

    const brokerDown = await ready(up, down);
    assert.equal(brokerDown.ready.status, 200);
    assert.deepEqual(brokerDown.ready.body, {
      status: 'degraded',
      checks: { postgres: 'up', kafka: 'down' },
    });
    assert.match(
      brokerDown.metrics.text,
      /dependency_up\{dependency="kafka",critical="false",service="ready-test"\} 0/,
    );
    assert.match(
      brokerDown.metrics.text,
      /dependency_up\{dependency="postgres",critical="true",service="ready-test"\} 1/,
    );

    const dbDown = await ready(down, up);
    assert.equal(dbDown.ready.status, 503);
    assert.deepEqual(dbDown.ready.body, { status: 'unavailable', checks: { postgres: 'down', kafka: 'up' } });
  });
});

test('a documented path asked with another method answers 405 problem+json with Allow, not 404', async () => {
  const { app, finish } = createServiceApp({ service: 'http-test', logger, readiness: [] });
  app.use(
    mountRoutes(
      [
        route({
          method: 'get',
          path: '/api/v1/things/lookup',
          summary: 'Find a thing',
          auth: false,
          responses: { 200: { description: 'The thing' } },
          handle: (_req, res) => {
            res.json({ found: true });
          },
        }),
        route({
          method: 'delete',
          path: '/api/v1/things/{id}',
          summary: 'Remove a thing',
          auth: false,
          params: z.object({ id: z.string() }),
          responses: { 204: { description: 'Removed' } },
          handle: (_req, res) => {
            res.status(204).end();
          },
        }),
        route({
          method: 'get',
          path: '/api/v1/things/{id}',
          summary: 'A thing',
          auth: false,
          params: z.object({ id: z.string() }),
          responses: { 200: { description: 'The thing' } },
          handle: (req, res) => {
            res.json({ id: req.params.id });
          },
        }),
      ],
      [],
    ),
  );
  finish();
  const ok = await request(app).get('/api/v1/things/a');
  assert.deepEqual([ok.status, ok.body], [200, { id: 'a' }]);
  const refused = await request(app).post('/api/v1/things/a');
  assertProblem(refused, 405, 'METHOD_NOT_ALLOWED');
  assert.equal(refused.headers.allow, 'DELETE, GET, HEAD');
  assert.equal((await request(app).delete('/api/v1/things/a')).status, 204);
  // A literal path is its own resource, not a thing whose id is "lookup".
  const literal = await request(app).delete('/api/v1/things/lookup');
  assertProblem(literal, 405, 'METHOD_NOT_ALLOWED');
  assert.equal(literal.headers.allow, 'GET, HEAD');
  assert.deepEqual((await request(app).get('/api/v1/things/lookup')).body, { found: true });
  assert.equal((await request(app).delete('/api/v1/nothing')).status, 404);
});
