import assert from 'node:assert/strict';
import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { ACCESS_TOKEN, verifyAccessToken } from '@trellis/shared';
import { assertProblem } from '@trellis/shared/testing';
import { bearer, register, startIdentity, type Identity } from './helpers.ts';

let identity: Identity;

before(async () => {
  identity = await startIdentity();
});

after(() => identity.close());

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const parts = (token: string) => token.split('.') as [string, string, string];
const headerOf = (token: string) => JSON.parse(Buffer.from(parts(token)[0], 'base64url').toString());
const payloadOf = (token: string) => JSON.parse(Buffer.from(parts(token)[1], 'base64url').toString());

async function jwks() {
  const res = await request(identity.app).get('/api/v1/auth/jwks');
  assert.equal(res.status, 200);
  return res.body.keys as Array<Record<string, string>>;
}

/** A resolver over the published JWKS, as the gateway builds it. */
async function resolverFromJwks() {
  const keys = new Map((await jwks()).map((jwk) => [jwk.kid!, createPublicKey({ key: jwk, format: 'jwk' })]));
  return async (kid: string) => keys.get(kid);
}

const me = (token: string) => request(identity.app).get('/api/v1/users/me').set(bearer(token));

test('private keys are stored encrypted: a database dump alone cannot sign', async () => {
  const rows = await identity.models.SigningKey.findAll();
  assert.ok(rows.length > 0);
  for (const row of rows) {
    assert.match(row.privatePem, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    assert.throws(() => createPrivateKey(row.privatePem));
    assert.throws(() =>
      createPrivateKey({ key: row.privatePem, passphrase: 'a wrong passphrase of 32+ chars!!' }),
    );
  }
});

describe('JWKS and access tokens', () => {
  test('the JWKS carries the kid of issued tokens, whose claims verify against it', async () => {
    const session = await register(identity.app);
    const keys = await jwks();
    assert.equal(keys.length, 1);
    assert.deepEqual(Object.keys(keys[0]!).sort(), ['alg', 'e', 'kid', 'kty', 'n', 'use']);
    assert.equal(keys[0]!.alg, 'RS256');
    assert.equal(keys[0]!.use, 'sig');
    const header = headerOf(session.accessToken);
    assert.equal(header.alg, 'RS256');
    assert.equal(header.kid, keys[0]!.kid);

    const user = await verifyAccessToken(session.accessToken, await resolverFromJwks());
    assert.equal(user.id, session.user.id);
    assert.equal(user.email, session.email);
    const claims = payloadOf(session.accessToken);
    assert.match(claims.jti, /^[0-9a-f-]{36}$/);
    assert.equal(claims.iss, ACCESS_TOKEN.issuer);
    assert.equal(claims.aud, ACCESS_TOKEN.audience);
    assert.equal(claims.exp - claims.iat, 900);
  });

  test('forged, tampered, expired and foreign tokens are 401 on /users/me', async () => {
    const session = await register(identity.app);
    const victim = await register(identity.app);
    const [h, p, s] = parts(session.accessToken);
    const claims = payloadOf(session.accessToken);
    const { kid } = headerOf(session.accessToken);
    const publicPem = createPublicKey({ key: (await jwks())[0]!, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' })
      .toString();
    const { privateKey: strangerKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const { privateKey: ownKey } = await identity.keys.signingKey();
    const signedWith = (key: KeyObject, payload: object, header: jwt.SignOptions = {}) =>
      jwt.sign(payload, key, {
        algorithm: 'RS256',
        keyid: kid,
        issuer: ACCESS_TOKEN.issuer,
        audience: ACCESS_TOKEN.audience,
        ...header,
      });
    const hs256 = () => {
      const head = b64({ alg: 'HS256', typ: 'JWT', kid });
      const body = b64({ ...claims, sub: victim.user.id });
      return `${head}.${body}.${createHmac('sha256', publicPem).update(`${head}.${body}`).digest('base64url')}`;
    };

    const forged: Record<string, string> = {
      tampered: `${h}.${b64({ ...claims, sub: victim.user.id, email: victim.email })}.${s}`,
      'alg none': `${b64({ alg: 'none', typ: 'JWT', kid })}.${p}.`,
      'HS256 keyed with the public key': hs256(),
      expired: signedWith(ownKey, {
        sub: session.user.id,
        email: session.email,
        jti: claims.jti,
        iat: claims.iat - 3600,
        exp: claims.iat - 1800,
      }),
      'unknown kid': signedWith(
        strangerKey,
        { sub: session.user.id, email: session.email, jti: claims.jti },
        {
          keyid: 'no-such-key',
        },
      ),
      'a stranger key under our kid': signedWith(strangerKey, {
        sub: session.user.id,
        email: session.email,
        jti: claims.jti,
      }),
      'wrong audience': signedWith(
        ownKey,
        { sub: session.user.id, email: session.email, jti: claims.jti },
        {
          audience: 'someone-else',
        },
      ),
      garbage: 'not.a.jwt',
    };
    assert.equal((await me(session.accessToken)).status, 200);
    for (const [label, token] of Object.entries(forged)) {
      const res = await me(token);
      assert.equal(res.status, 401, `${label}: ${res.status}`);
      assertProblem(res, 401, 'UNAUTHENTICATED');
    }
    assertProblem(await request(identity.app).get('/api/v1/users/me'), 401, 'UNAUTHENTICATED');
  });

  test('rotation: a new current key, the previous one still verifies, older ones leave the JWKS', async () => {
    const before = await register(identity.app);
    const [original] = await jwks();
    const day = 24 * 3600_000;

    await identity.keys.rotateIfDue(new Date(Date.now() + 10 * day));
    assert.equal((await jwks()).length, 1, 'not due yet: nothing changes');

    await identity.keys.rotateIfDue(new Date(Date.now() + 31 * day));
    const rotated = await jwks();
    assert.deepEqual(
      rotated.map((k) => k.kid),
      [rotated[0]!.kid, original!.kid],
    );
    assert.notEqual(rotated[0]!.kid, original!.kid);
    const after = await register(identity.app);
    assert.equal(headerOf(after.accessToken).kid, rotated[0]!.kid);
    assert.equal((await me(before.accessToken)).status, 200, 'tokens of the previous key still verify');
    assert.equal((await me(after.accessToken)).status, 200);

    await identity.keys.rotateIfDue(new Date(Date.now() + 62 * day));
    const again = await jwks();
    assert.equal(again.length, 2);
    assert.ok(!again.some((k) => k.kid === original!.kid), 'the oldest key is dropped');
    assert.equal((await me(before.accessToken)).status, 401);
    assert.equal((await me(after.accessToken)).status, 200);
  });
});
