import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import request from 'supertest';
import { z } from 'zod';
import {
  emailAddress,
  createLogger,
  createServiceApp,
  isoDate,
  isoDateTime,
  unstorableFields,
  unstorableText,
  validate,
} from '../src/index.ts';
import { assertProblem } from '../src/testing/index.ts';

const logger = createLogger('input-edge-test', 'silent');

function app() {
  const { app, finish } = createServiceApp({ service: 'input-edge-test', logger, readiness: [] });
  const body = z.object({ title: z.string().optional(), labels: z.array(z.string()).optional() });
  app.post('/things/:id', validate({ body }), (req, res) => {
    res.status(201).json(req.body);
  });
  app.get('/search', (req, res) => {
    res.json(req.query);
  });
  // What a store does with a value it cannot take: the error, as the driver raises it.
  app.get('/pg-refuses', () => {
    const original = Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), {
      code: '22021',
    });
    throw Object.assign(new Error('invalid byte sequence'), {
      name: 'SequelizeDatabaseError',
      parent: original,
      original,
    });
  });
  app.get('/mongo-refuses', () => {
    throw Object.assign(new Error('document too large'), { name: 'MongoServerError', code: 10334 });
  });
  app.get('/pg-down', () => {
    const original = Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
    throw Object.assign(new Error('connect ECONNREFUSED'), {
      name: 'SequelizeConnectionRefusedError',
      parent: original,
    });
  });
  app.get('/mongo-down', () => {
    throw Object.assign(new Error('Server selection timed out'), { name: 'MongoServerSelectionError' });
  });
  app.get('/bug', () => {
    throw new TypeError("Cannot read properties of undefined (reading 'id')");
  });
  return finish();
}

describe('the input edge', () => {
  const server = app();

  test('text a store cannot hold is named: NUL, lone surrogates, non-characters', () => {
    assert.match(unstorableText('a\u0000b')!, /NUL/);
    assert.match(unstorableText('a\ud800b')!, /surrogate/);
    assert.match(unstorableText('x\udfff')!, /surrogate/);
    assert.match(unstorableText('\ufffe')!, /U\+FFFE/);
    assert.match(unstorableText('\ufdd0')!, /U\+FDD0/);
    assert.match(unstorableText('\u{10ffff}')!, /U\+10FFFF/);
    for (const fine of ['', 'Ada', 'émoji 🎉', '中文', 'tab\tand\nnewline', '\ud83d\ude00'])
      assert.equal(unstorableText(fine), undefined, JSON.stringify(fine));
  });

  test('every offending string and key is listed with its path', () => {
    const problems = unstorableFields(
      { a: 'ok', b: ['x', 'y\u0000'], c: { 'k\u0000': 1, d: '\ud800' } },
      'body',
    );
    assert.deepEqual(
      problems.map((p) => p.path),
      ['body.b.1', 'body.c["k\\u0000"]', 'body.c.d'],
    );
  });

  test('a body, a query or a path segment with such text is a 400 with field errors, before any route', async () => {
    const id = '3f1c2a4e-8b7d-4c1e-9f0a-2b3c4d5e6f70';
    const body = await request(server)
      .post(`/things/${id}`)
      .set('Content-Type', 'application/json')
      .send('{"title":"a\\u0000b","labels":["ok","\\ud800"]}');
    assertProblem(body, 400, 'VALIDATION_FAILED');
    assert.deepEqual(
      (body.body.errors as Array<{ path: string }>).map((e) => e.path),
      ['body.title', 'body.labels.1'],
    );

    const query = await request(server).get('/search?q=%00&label=fine');
    assertProblem(query, 400, 'VALIDATION_FAILED');
    assert.deepEqual(query.body.errors, [{ path: 'query.q', message: 'Contains a NUL character (U+0000)' }]);

    const path = await request(server).post('/things/a%00b').send({});
    assertProblem(path, 400, 'VALIDATION_FAILED');
    assert.equal(path.body.errors[0].path, 'path[2]');

    const fine = await request(server)
      .post(`/things/${id}`)
      .send({ title: 'Ada 🎉', labels: ['ok'] });
    assert.equal(fine.status, 201);
  });

  test('dates: years 1900–9999 and real calendar days', () => {
    const date = isoDate();
    for (const ok of ['1900-01-01', '2026-02-28', '2028-02-29', '9999-12-31'])
      assert.ok(date.safeParse(ok).success, ok);
    for (const bad of ['0000-01-01', '1899-12-31', '2026-02-30', '2026-13-01', '10000-01-01', '2026-1-1'])
      assert.ok(!date.safeParse(bad).success, bad);
  });

  test('date-times: an offset up to ±14:00, years 1900–9999', () => {
    const at = isoDateTime();
    for (const ok of ['2026-03-31T09:30:00Z', '2026-03-31T09:30:00.123+14:00', '2026-03-31T09:30:00-12:00'])
      assert.ok(at.safeParse(ok).success, ok);
    for (const bad of [
      '0000-01-01T00:00:00Z',
      '2026-03-31T09:30:00+14:01',
      '2026-03-31T09:30:00+15:59',
      '2026-03-31T09:30:00-16:00',
      '2026-03-31T09:30:00+99:99',
      '2026-03-31',
    ])
      assert.ok(!at.safeParse(bad).success, bad);
  });

  test("a store refusing the request's data is a 400 and a store outage a 503, never a 500", async () => {
    const pg = await request(server).get('/pg-refuses');
    assertProblem(pg, 400, 'VALIDATION_FAILED');
    const mongo = await request(server).get('/mongo-refuses');
    assertProblem(mongo, 400, 'VALIDATION_FAILED');
    const down = await request(server).get('/pg-down');
    assertProblem(down, 503, 'UPSTREAM_UNAVAILABLE');
    assert.equal(down.headers['retry-after'], '5');
    const mongoDown = await request(server).get('/mongo-down');
    assertProblem(mongoDown, 503, 'UPSTREAM_UNAVAILABLE');
    const bug = await request(server).get('/bug');
    assert.equal(bug.status, 500, 'anything else is still a bug');
  });

  test('e-mail addresses: what a mail server takes (≤ 253 in all, ≤ 64 before @), trimmed', () => {
    const email = emailAddress();
    const label = 'a'.repeat(63);
    const domain = `${label}.${label}.${label}.example`; // 199 characters
    assert.equal(email.parse('  Ada@Example.com '), 'Ada@Example.com');
    assert.ok(email.safeParse(`${'b'.repeat(53)}@${domain}`).success, '253 characters');
    assert.ok(!email.safeParse(`${'b'.repeat(54)}@${domain}`).success, '254 characters');
    assert.ok(email.safeParse(`${'c'.repeat(64)}@example.com`).success);
    assert.ok(!email.safeParse(`${'c'.repeat(65)}@example.com`).success, 'a local part of 65');
    assert.ok(!email.safeParse('not-an-address').success);
  });
});
