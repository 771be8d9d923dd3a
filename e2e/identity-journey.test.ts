import assert from 'node:assert/strict';
import { createPublicKey, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import jwt from 'jsonwebtoken';
import { waitFor } from '@trellis/shared/testing';
import { createTrellisClient, TrellisProblem, unwrap } from '../clients/typescript/src/index.ts';
import {
  apiClient,
  assertProblem,
  conformingFetch,
  type ApiClient,
  type ApiResponse,
} from './support/client.ts';
import { codeFromMail, mailsTo } from './support/maildev.ts';
import { startSuite, type Suite } from './support/suite.ts';

interface Session {
  user: { id: string; email: string; name: string; emailVerified: boolean };
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

describe('identity through the gateway', () => {
  let suite: Suite;
  let api: ApiClient;
  const password = 'correct horse battery';
  const newEmail = () => `e2e-${randomUUID()}@example.test`;
  const register = async (email = newEmail()) => {
    const res = await api.post<Session>('/auth/register', { email, password, name: 'Ada Lovelace' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body;
  };

  before(async () => {
    suite = await startSuite();
    api = apiClient(suite.gatewayUrl);
  });

  after(() => suite?.close());

  test('register → login → me → refresh → replayed refresh kills the family → login → logout revokes within 1 s', async () => {
    const email = newEmail();
    const registered = await register(email);
    assert.equal(registered.user.email, email);
    assert.equal(registered.expiresIn, 900);

    // The session as an integrator holds it: @trellis/client signs in, rotates and signs out.
    const sdk = createTrellisClient({ baseUrl: api.baseUrl, fetch: conformingFetch(api.baseUrl) });
    const signedIn = await sdk.login({ email: email.toUpperCase(), password });
    assert.equal(signedIn.id, registered.user.id);
    const me = await api.get('/users/me', sdk.tokens()?.accessToken);
    assert.equal(me.status, 200);
    assert.deepEqual(Object.keys(me.body).sort(), ['createdAt', 'email', 'emailVerified', 'id', 'name']);
    assert.equal((await unwrap(sdk.api.GET('/api/v1/users/me'))).id, registered.user.id);

    const first = sdk.tokens()!;
    const rotated = await sdk.refresh();
    assert.notEqual(rotated.refreshToken, first.refreshToken);
    assert.notEqual(rotated.accessToken, first.accessToken);

    // The first refresh token again: the family is dead, the rotated token with it.
    assertProblem(
      await api.post('/auth/refresh', { refreshToken: first.refreshToken }),
      401,
      'UNAUTHENTICATED',
    );
    const refused = await sdk.refresh().catch((error: unknown) => error);
    assert.ok(refused instanceof TrellisProblem && refused.status === 401, String(refused));

    await sdk.login({ email, password });
    const again = sdk.tokens()!;
    assert.equal((await api.get('/users/me', again.accessToken)).status, 200);
    await sdk.logout();
    assert.equal(sdk.tokens(), undefined);
    const loggedOutAt = performance.now();
    await waitFor(async () => (await api.get('/users/me', again.accessToken)).status === 401, {
      timeoutMs: 1_000,
      intervalMs: 20,
      what: 'the logged-out access token to be rejected',
    });
    const rejectedAfter = performance.now() - loggedOutAt;
    assert.ok(rejectedAfter < 1_000, `rejected after ${rejectedAfter.toFixed(0)} ms`);
    assertProblem(
      await api.post('/auth/refresh', { refreshToken: again.refreshToken }),
      401,
      'UNAUTHENTICATED',
    );
  });

  test('forgot → code from MailDev → reset → old sessions dead; five wrong codes lock the code', async () => {
    const email = newEmail();
    const session = await register(email);
    assert.equal((await api.post('/auth/password/forgot', { email })).status, 202);
    assert.equal(
      (await api.post('/auth/password/forgot', { email: newEmail() })).status,
      202,
      'no enumeration',
    );
    const code = await codeFromMail(email);

    const newPassword = 'a brand new passphrase';
    assert.equal((await api.post('/auth/password/reset', { email, code, newPassword })).status, 204);
    assertProblem(
      await api.post('/auth/refresh', { refreshToken: session.refreshToken }),
      401,
      'UNAUTHENTICATED',
    );
    await waitFor(async () => (await api.get('/users/me', session.accessToken)).status === 401, {
      timeoutMs: 1_000,
      what: 'the old access token to be revoked',
    });
    assertProblem(await api.post('/auth/login', { email, password }), 401, 'UNAUTHENTICATED');
    assert.equal((await api.post('/auth/login', { email, password: newPassword })).status, 200);

    // A second code: five wrong attempts, then even the right one is refused.
    assert.equal((await api.post('/auth/password/forgot', { email })).status, 202);
    const second = await codeFromMail(email, 2);
    const wrong = second === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i += 1) {
      const res = await api.post('/auth/password/reset', {
        email,
        code: wrong,
        newPassword: 'yet another passphrase',
      });
      assert.equal(res.status, 400);
    }
    const locked = await api.post('/auth/password/reset', {
      email,
      code: second,
      newPassword: 'yet another passphrase',
    });
    assert.equal(locked.status, 400, 'the right code no longer works once locked');
    assert.equal((await api.post('/auth/login', { email, password: newPassword })).status, 200);
  });

  test('forged tokens are refused: alg none, HS256 with the public key, tampered payload, unknown kid', async () => {
    const session = await register();
    const [header, payload, signature] = session.accessToken.split('.') as [string, string, string];
    const { kid } = JSON.parse(Buffer.from(header, 'base64url').toString()) as { kid: string };
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const jwks = await api.get<{ keys: Array<Record<string, string>> }>('/auth/jwks');
    assert.equal(jwks.status, 200);
    const jwk = jwks.body.keys.find((k) => k.kid === kid);
    assert.ok(jwk, 'the JWKS publishes the signing key');
    const publicPem = createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

    const forged: Record<string, string> = {
      'alg none': `${b64({ alg: 'none', typ: 'JWT', kid })}.${payload}.`,
      'HS256 signed with the public key': jwt.sign(claims, publicPem, { algorithm: 'HS256', keyid: kid }),
      'tampered payload': `${header}.${b64({ ...claims, sub: randomUUID() })}.${signature}`,
      'unknown kid': `${b64({ alg: 'RS256', typ: 'JWT', kid: 'not-a-key' })}.${payload}.${signature}`,
      'no token at all': '',
    };
    for (const [name, token] of Object.entries(forged)) {
      const res = await api.get('/users/me', token || undefined);
      assert.equal(res.status, 401, `${name} must be refused`);
    }
    assert.equal(
      (await api.get('/users/me', session.accessToken)).status,
      200,
      'the genuine token still works',
    );
  });

  test('the 11th rapid failed login answers 429 with Retry-After', async () => {
    const email = newEmail();
    await register(email);
    const statuses: number[] = [];
    let last: ApiResponse | undefined;
    for (let i = 0; i < 11; i += 1) {
      last = await api.post('/auth/login', { email, password: 'wrong password!' });
      statuses.push(last.status);
    }
    assert.deepEqual(statuses, [...Array(10).fill(401), 429]);
    assert.ok(last);
    assertProblem(last, 429, 'RATE_LIMITED');
    assert.ok(Number(last.headers.get('retry-after')) > 0);
  });

  test('unknown e-mail and wrong password get the same 401', async () => {
    const email = newEmail();
    await register(email);
    const unknown = await api.post('/auth/login', { email: newEmail(), password });
    const wrong = await api.post('/auth/login', { email, password: 'not the password' });
    assertProblem(unknown, 401, 'UNAUTHENTICATED');
    const strip = (body: Record<string, unknown>) => ({ ...body, requestId: undefined });
    assert.deepEqual(strip(unknown.body), strip(wrong.body));
  });

  test('every malformed input gets a 4xx problem with field errors, never a 500', async () => {
    const session = await register();
    const cases: Array<{ method: string; path: string; raw?: string; body?: unknown; auth?: boolean }> = [
      { method: 'POST', path: '/auth/register' },
      { method: 'POST', path: '/auth/register', body: {} },
      { method: 'POST', path: '/auth/register', raw: '{"email": "a@b.c", ' },
      { method: 'POST', path: '/auth/register', raw: '[]' },
      { method: 'POST', path: '/auth/register', raw: '"just a string"' },
      { method: 'POST', path: '/auth/register', raw: 'null' },
      { method: 'POST', path: '/auth/register', body: { email: 42, password: true, name: [] } },
      {
        method: 'POST',
        path: '/auth/register',
        body: { email: 'not-an-email', password: 'short', name: '' },
      },
      {
        method: 'POST',
        path: '/auth/register',
        body: { email: 'x@example.test', password: 'p'.repeat(129), name: 'n' },
      },
      {
        method: 'POST',
        path: '/auth/register',
        body: { email: `${'a'.repeat(300)}@example.test`, password, name: 'n'.repeat(10_000) },
      },
      { method: 'POST', path: '/auth/login', body: { email: { $ne: null }, password: { $gt: '' } } },
      { method: 'POST', path: '/auth/refresh', body: { refreshToken: 12 } },
      {
        method: 'POST',
        path: '/auth/password/reset',
        body: { email: 'x@example.test', code: 'abcdef', newPassword: password },
      },
      { method: 'POST', path: '/auth/password/forgot', body: { email: 'nope' } },
      { method: 'POST', path: '/auth/password/change', body: { currentPassword: 1 }, auth: true },
      { method: 'PATCH', path: '/users/me', body: { name: '' }, auth: true },
      { method: 'PATCH', path: '/users/me', body: { name: 'x'.repeat(1_000) }, auth: true },
      { method: 'GET', path: '/users/not-a-uuid', auth: true },
      { method: 'POST', path: '/auth/email/verify', body: { code: '12' }, auth: true },
    ];
    for (const c of cases) {
      const res = await api.call(c.method, c.path, {
        raw: c.raw,
        body: c.body,
        token: c.auth ? session.accessToken : undefined,
        headers: c.raw === undefined && c.body === undefined ? { 'content-type': 'application/json' } : {},
      });
      const what = `${c.method} ${c.path} ${c.raw ?? JSON.stringify(c.body) ?? '(no body)'}`.slice(0, 120);
      assert.ok(
        res.status === 400 || res.status === 422,
        `${what} → ${res.status} ${JSON.stringify(res.body)}`,
      );
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/, what);
      assert.equal(res.body.code, 'VALIDATION_FAILED', what);
      assert.ok(Array.isArray(res.body.errors) && res.body.errors.length > 0, `${what} lists field errors`);
    }
  });

  test('password and codes never reach a mail or response they should not', async () => {
    const email = newEmail();
    const session = await register(email);
    assert.equal(JSON.stringify(session).includes(password), false);
    assert.equal((await api.post('/auth/email/verify/request', undefined, session.accessToken)).status, 202);
    const code = await codeFromMail(email);
    assert.equal((await api.post('/auth/email/verify', { code }, session.accessToken)).status, 204);
    const me = await api.get('/users/me', session.accessToken);
    assert.equal(me.body.emailVerified, true);
    const mails = await mailsTo(email);
    assert.equal(
      mails.some((m) => m.text.includes(password)),
      false,
    );
  });
});
