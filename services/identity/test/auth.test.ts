import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { assertProblem } from '@trellis/shared/testing';
import {
  bearer,
  PASSWORD,
  register,
  startIdentity,
  uniqueEmail,
  uniqueIp,
  type Identity,
} from './helpers.ts';

let identity: Identity;

before(async () => {
  identity = await startIdentity();
});

after(() => identity.close());

const post = (path: string) => request(identity.app).post(`/api/v1${path}`);

describe('register and login', () => {
  test('register answers 201 with the user, a token pair and Location; the e-mail is stored lower-cased', async () => {
    const email = uniqueEmail('Mixed').toUpperCase();
    const res = await post('/auth/register').send({ email, password: PASSWORD, name: '  Grace Hopper  ' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.headers.location, `/api/v1/users/${res.body.user.id}`);
    assert.deepEqual(Object.keys(res.body.user).sort(), [
      'createdAt',
      'email',
      'emailVerified',
      'id',
      'name',
    ]);
    assert.equal(res.body.user.email, email.toLowerCase());
    assert.equal(res.body.user.name, 'Grace Hopper');
    assert.equal(res.body.user.emailVerified, false);
    assert.equal(res.body.expiresIn, 900);
    assert.match(res.body.refreshToken, /^[A-Za-z0-9_-]{43}$/);

    const me = await request(identity.app).get('/api/v1/users/me').set(bearer(res.body.accessToken));
    assert.equal(me.status, 200);
    assert.deepEqual(me.body, res.body.user);
  });

  test('an e-mail is unique whatever its case: 409 CONFLICT', async () => {
    const { email } = await register(identity.app);
    const res = await post('/auth/register').send({
      email: email.toUpperCase(),
      password: PASSWORD,
      name: 'X',
    });
    assertProblem(res, 409, 'CONFLICT');
  });

  test('login with the right password answers 200 with a fresh pair; the e-mail case does not matter', async () => {
    const { email, user } = await register(identity.app);
    const res = await post('/auth/login')
      .set('X-Forwarded-For', uniqueIp())
      .send({ email: email.toUpperCase(), password: PASSWORD });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.user, user);
    assert.equal(res.body.expiresIn, 900);
    const me = await request(identity.app).get('/api/v1/users/me').set(bearer(res.body.accessToken));
    assert.equal(me.status, 200);
  });

  test('a wrong password and an unknown e-mail get identical 401 bodies (but for the request id)', async () => {
    const { email } = await register(identity.app);
    const ip = uniqueIp();
    const wrong = await post('/auth/login')
      .set('X-Forwarded-For', ip)
      .send({ email, password: 'not the password' });
    const unknown = await post('/auth/login')
      .set('X-Forwarded-For', ip)
      .send({ email: uniqueEmail('nobody'), password: 'not the password' });
    assertProblem(wrong, 401, 'UNAUTHENTICATED');
    assertProblem(unknown, 401, 'UNAUTHENTICATED');
    const strip = ({ requestId: _id, ...rest }: Record<string, unknown>) => rest;
    assert.deepEqual(strip(wrong.body), strip(unknown.body));
  });

  test('ten wrong passwords from one address: that address gets 429 with Retry-After, even with the right password; the owner elsewhere signs in', async () => {
    const { email } = await register(identity.app);
    const guesser = uniqueIp();
    for (let i = 0; i < identity.config.LOGIN_MAX_FAILURES; i += 1) {
      const res = await post('/auth/login')
        .set('X-Forwarded-For', guesser)
        .send({ email, password: 'wrong-password' });
      assertProblem(res, 401, 'UNAUTHENTICATED');
    }
    const blocked = await post('/auth/login')
      .set('X-Forwarded-For', guesser)
      .send({ email, password: PASSWORD });
    assertProblem(blocked, 429, 'RATE_LIMITED');
    const retryAfter = Number(blocked.headers['retry-after']);
    assert.ok(
      retryAfter > 0 && retryAfter <= identity.config.LOGIN_WINDOW_SECONDS,
      `Retry-After ${retryAfter}`,
    );

    const owner = await post('/auth/login')
      .set('X-Forwarded-For', uniqueIp())
      .send({ email, password: PASSWORD });
    assert.equal(owner.status, 200, JSON.stringify(owner.body));
    // The guesser's address stays throttled for this account.
    const still = await post('/auth/login')
      .set('X-Forwarded-For', guesser)
      .send({ email, password: PASSWORD });
    assertProblem(still, 429, 'RATE_LIMITED');
  });

  test('failures from one IP across many e-mails are throttled per IP', async () => {
    const ip = uniqueIp();
    for (let i = 0; i < identity.config.LOGIN_MAX_FAILURES_PER_IP; i += 1) {
      const res = await post('/auth/login')
        .set('X-Forwarded-For', ip)
        .send({ email: uniqueEmail(), password: 'x' });
      assertProblem(res, 401, 'UNAUTHENTICATED');
    }
    const { email } = await register(identity.app);
    const blocked = await post('/auth/login').set('X-Forwarded-For', ip).send({ email, password: PASSWORD });
    assertProblem(blocked, 429, 'RATE_LIMITED');
    assert.ok(Number(blocked.headers['retry-after']) > 0);
    const elsewhere = await post('/auth/login')
      .set('X-Forwarded-For', uniqueIp())
      .send({ email, password: PASSWORD });
    assert.equal(elsewhere.status, 200);
  });

  test("a successful login clears its address's counter for that account", async () => {
    const { email } = await register(identity.app);
    const ip = uniqueIp();
    const attempt = (password: string) =>
      post('/auth/login').set('X-Forwarded-For', ip).send({ email, password });
    for (let i = 0; i < identity.config.LOGIN_MAX_FAILURES - 1; i += 1)
      assert.equal((await attempt('wrong-password')).status, 401);
    assert.equal((await attempt(PASSWORD)).status, 200);
    for (let i = 0; i < identity.config.LOGIN_MAX_FAILURES - 1; i += 1)
      assert.equal((await attempt('nope-nope')).status, 401);
  });
});

describe('refresh tokens', () => {
  test('each refresh rotates; a rotated token used again revokes the whole family', async () => {
    const first = await register(identity.app);
    const second = await post('/auth/refresh').send({ refreshToken: first.refreshToken });
    assert.equal(second.status, 200, JSON.stringify(second.body));
    assert.deepEqual(Object.keys(second.body).sort(), ['accessToken', 'expiresIn', 'refreshToken']);
    assert.notEqual(second.body.refreshToken, first.refreshToken);
    const me = await request(identity.app).get('/api/v1/users/me').set(bearer(second.body.accessToken));
    assert.equal(me.status, 200);

    const third = await post('/auth/refresh').send({ refreshToken: second.body.refreshToken });
    assert.equal(third.status, 200);

    // Replaying the first (rotated) token: 401 and the family's newest token dies with it.
    assertProblem(
      await post('/auth/refresh').send({ refreshToken: first.refreshToken }),
      401,
      'UNAUTHENTICATED',
    );
    assertProblem(
      await post('/auth/refresh').send({ refreshToken: third.body.refreshToken }),
      401,
      'UNAUTHENTICATED',
    );
  });

  test('unknown refresh tokens are 401', async () => {
    assertProblem(await post('/auth/refresh').send({ refreshToken: 'x'.repeat(43) }), 401, 'UNAUTHENTICATED');
  });

  test('an expired refresh token is 401', async () => {
    const session = await register(identity.app);
    const tokenHash = createHash('sha256').update(session.refreshToken).digest('base64url');
    await identity.models.RefreshToken.update(
      { expiresAt: new Date(Date.now() - 1000) },
      { where: { tokenHash } },
    );
    assertProblem(
      await post('/auth/refresh').send({ refreshToken: session.refreshToken }),
      401,
      'UNAUTHENTICATED',
    );
  });

  test('logout revokes the family: 204, then the refresh token is dead; other sessions live on', async () => {
    const session = await register(identity.app);
    const other = await post('/auth/login')
      .set('X-Forwarded-For', uniqueIp())
      .send({ email: session.email, password: PASSWORD });
    const res = await post('/auth/logout')
      .set(bearer(session.accessToken))
      .send({ refreshToken: session.refreshToken });
    assert.equal(res.status, 204);
    assertProblem(
      await post('/auth/refresh').send({ refreshToken: session.refreshToken }),
      401,
      'UNAUTHENTICATED',
    );
    assert.equal((await post('/auth/refresh').send({ refreshToken: other.body.refreshToken })).status, 200);
  });

  test('logout needs an access token', async () => {
    const session = await register(identity.app);
    assertProblem(
      await post('/auth/logout').send({ refreshToken: session.refreshToken }),
      401,
      'UNAUTHENTICATED',
    );
  });
});

describe('password change', () => {
  test('a wrong current password is 401; the right one changes it and signs the other sessions out', async () => {
    const session = await register(identity.app);
    const other = await post('/auth/login')
      .set('X-Forwarded-For', uniqueIp())
      .send({ email: session.email, password: PASSWORD });
    const wrong = await post('/auth/password/change')
      .set(bearer(session.accessToken))
      .send({ currentPassword: 'not-it-at-all', newPassword: 'a brand new password' });
    assertProblem(wrong, 401, 'UNAUTHENTICATED');

    const changed = await post('/auth/password/change')
      .set(bearer(session.accessToken))
      .send({ currentPassword: PASSWORD, newPassword: 'a brand new password' });
    assert.equal(changed.status, 204);
    assertProblem(
      await post('/auth/refresh').send({ refreshToken: other.body.refreshToken }),
      401,
      'UNAUTHENTICATED',
    );
    assert.equal((await post('/auth/refresh').send({ refreshToken: session.refreshToken })).status, 200);

    const ip = uniqueIp();
    const old = await post('/auth/login')
      .set('X-Forwarded-For', ip)
      .send({ email: session.email, password: PASSWORD });
    assert.equal(old.status, 401);
    const fresh = await post('/auth/login')
      .set('X-Forwarded-For', ip)
      .send({ email: session.email, password: 'a brand new password' });
    assert.equal(fresh.status, 200);
  });
});

describe('bad input', () => {
  const cases: Array<[string, string, unknown, string[]]> = [
    ['/auth/register', 'empty body', undefined, ['body.email', 'body.password', 'body.name']],
    [
      '/auth/register',
      'wrong types',
      { email: 5, password: true, name: [] },
      ['body.email', 'body.password', 'body.name'],
    ],
    [
      '/auth/register',
      'short password, blank name',
      { email: 'a@b.co', password: 'short', name: '   ' },
      ['body.password', 'body.name'],
    ],
    [
      '/auth/register',
      'huge strings',
      { email: `${'a'.repeat(5000)}@b.co`, password: 'p'.repeat(5000), name: 'n'.repeat(5000) },
      ['body.email', 'body.password', 'body.name'],
    ],
    ['/auth/register', 'non-object JSON', [1, 2], ['body']],
    ['/auth/login', 'bad e-mail', { email: 'not-an-email', password: 'x' }, ['body.email']],
    ['/auth/refresh', 'missing token', {}, ['body.refreshToken']],
    ['/auth/password/forgot', 'wrong type', { email: { $ne: null } }, ['body.email']],
    [
      '/auth/password/reset',
      'bad code',
      { email: 'a@b.co', code: '12ab', newPassword: 'long-enough' },
      ['body.code'],
    ],
  ];
  for (const [path, label, body, paths] of cases) {
    test(`${path} with ${label} → 400 listing ${paths.join(', ')}`, async () => {
      const req = post(path).set('X-Forwarded-For', uniqueIp());
      const res = body === undefined ? await req : await req.send(body as object);
      assertProblem(res, 400, 'VALIDATION_FAILED');
      const reported = (res.body.errors as Array<{ path: string }>).map((e) => e.path);
      for (const p of paths)
        assert.ok(reported.includes(p), `${p} missing in ${JSON.stringify(res.body.errors)}`);
    });
  }

  test('invalid JSON, a JSON string and null are 400 problems, not 500', async () => {
    for (const raw of ['{"email": ', '"just a string"', 'null', '']) {
      const res = await post('/auth/login').set('Content-Type', 'application/json').send(raw);
      assertProblem(res, 400, 'VALIDATION_FAILED');
    }
  });

  test('a text/plain body is treated as no body', async () => {
    const res = await post('/auth/register').set('Content-Type', 'text/plain').send('email=a@b.co');
    assertProblem(res, 400, 'VALIDATION_FAILED');
  });

  test('a body over the limit is 413, not 500', async () => {
    const res = await post('/auth/register').send({ name: 'x'.repeat(2 * 1024 * 1024) });
    assertProblem(res, 413, 'PAYLOAD_TOO_LARGE');
  });
});
