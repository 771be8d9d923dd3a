import assert from 'node:assert/strict';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { test } from 'node:test';
import { AppError, cachedTokenVerifier, type KeyResolver } from '@trellis/shared';
import { testSigner } from '@trellis/shared/testing';

const signer = testSigner();

// A hit hands back the very object remembered; a full verification builds a new one.

const refused = async (promise: Promise<unknown>) => {
  await assert.rejects(promise, (err: unknown) => err instanceof AppError && err.status === 401);
};

test('a verified token is remembered until it expires, then verified again', async () => {
  let now = Date.now();
  const verify = cachedTokenVerifier(signer.resolveKey, { now: () => now });
  const token = signer.sign({}, { expiresIn: 60 });
  const first = await verify(token);
  assert.equal(await verify(token), first);
  assert.ok(Object.isFrozen(first));
  now = first.expiresAt * 1000; // the instant it expires
  const again = await verify(token);
  assert.notEqual(again, first);
  assert.deepEqual(again, first);
});

test('a hit still needs the key that verified it: a retired key takes its tokens at once', async () => {
  let published: KeyObject | undefined = signer.publicKey;
  const resolveKey: KeyResolver = async (kid) => (kid === signer.kid ? published : undefined);
  const verify = cachedTokenVerifier(resolveKey);
  const token = signer.sign();
  const first = await verify(token);
  // The same key material refetched (a JWKS refresh builds new KeyObjects): still a hit.
  published = createPublicKey(signer.publicKey.export({ format: 'pem', type: 'spki' }));
  assert.equal(await verify(token), first);
  published = undefined;
  await refused(verify(token));
});

test('only the exact token string hits; failures are never remembered', async () => {
  const verify = cachedTokenVerifier(signer.resolveKey);
  const token = signer.sign();
  await verify(token);
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const tampered = `${header}.${payload}.${signature.slice(0, -4)}AAAA`;
  await refused(verify(tampered));
  await refused(verify(tampered));
  await refused(verify(signer.sign({}, { expiresIn: -10 })));
});

test('the cache is bounded: the least recently used token is forgotten first', async () => {
  const verify = cachedTokenVerifier(signer.resolveKey, { maxEntries: 2 });
  const [a, b, c] = [signer.sign(), signer.sign(), signer.sign()];
  const ua = await verify(a);
  const ub = await verify(b);
  assert.equal(await verify(a), ua); // a is now the most recently used
  const uc = await verify(c); // evicts b
  assert.equal(await verify(a), ua);
  assert.equal(await verify(c), uc);
  assert.notEqual(await verify(b), ub);
});
