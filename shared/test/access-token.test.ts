import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bearerToken } from '../src/index.ts';

const token = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln-_';

test('the Bearer scheme is case-insensitive (RFC 7235 §2.1)', () => {
  for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR'])
    assert.equal(bearerToken(`${scheme} ${token}`), token, scheme);
  assert.equal(bearerToken(`Bearer   ${token}`), token, 'one or more spaces after the scheme');
});

test('anything but a bearer token is no token', () => {
  for (const header of [
    undefined,
    '',
    token,
    'Bearer',
    'Bearer ',
    `Bearer${token}`,
    `Basic ${token}`,
    `Bearers ${token}`,
    `Bearer ${token} extra`,
    `Bearer ${token}\n`,
    'Bearer a+b/c=',
  ])
    assert.equal(bearerToken(header), undefined, JSON.stringify(header));
});
