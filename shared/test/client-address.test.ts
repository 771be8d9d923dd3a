import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import request from 'supertest';
import { addressMatcher, createLogger, createServiceApp, type TrustProxy } from '../src/index.ts';

const logger = createLogger('client-address-test', 'silent');

/** An app answering what it takes the client to be, as `req.ip` and as `clientAddress`. */
function echoApp(trustProxy?: TrustProxy) {
  const { app, finish, clientAddress } = createServiceApp({
    service: 'client-address-test',
    logger,
    readiness: [],
    ...(trustProxy ? { trustProxy } : {}),
  });
  app.get('/who', (req, res) => {
    res.json({ ip: req.ip, clientAddress: clientAddress(req) });
  });
  return finish();
}

async function who(app: ReturnType<typeof echoApp>, forwardedFor?: string) {
  const req = request(app).get('/who');
  const res = await (forwardedFor === undefined ? req : req.set('X-Forwarded-For', forwardedFor));
  assert.equal(res.status, 200);
  const body = res.body as { ip: string; clientAddress: string };
  assert.equal(body.clientAddress, body.ip, 'upgrades get the address express decides for requests');
  return body.ip.replace(/^::ffff:/, '');
}

describe('client address', () => {
  test('a service believes the gateway hop only: one hop, from a loopback or private peer', async () => {
    const app = echoApp();
    assert.equal(await who(app), '127.0.0.1');
    assert.equal(await who(app, '203.0.113.7'), '203.0.113.7', 'the address the gateway wrote');
    assert.equal(await who(app, '203.0.113.7, 10.0.0.2'), '10.0.0.2', 'not a hop further, private or not');
  });

  test('an empty list believes no forwarding header', async () => {
    const app = echoApp({ addresses: [] });
    for (const header of [undefined, '203.0.113.7', '203.0.113.7, 10.0.0.2', 'garbage, ,'])
      assert.equal(await who(app, header), '127.0.0.1', String(header));
  });

  test('trusted proxies are believed in a row, up to the first address that is not one', async () => {
    const app = echoApp({ addresses: ['loopback', '10.0.0.0/8'] });
    assert.equal(await who(app, '198.51.100.1, 203.0.113.7, 10.1.2.3'), '203.0.113.7');
    assert.equal(await who(app, '10.0.0.9, 10.1.2.3'), '10.0.0.9', 'the leftmost when all are trusted');
    assert.equal(await who(app, '192.168.1.1'), '192.168.1.1');
  });

  test('addresses, CIDRs and the keywords are understood; anything else is refused', () => {
    const matches = addressMatcher([
      'loopback',
      'uniquelocal',
      '198.51.100.0/24',
      '2001:db8::/32',
      '203.0.113.7',
    ]);
    for (const address of [
      '127.0.0.1',
      '::1',
      '::ffff:127.0.0.1',
      '10.2.3.4',
      '198.51.100.9',
      '2001:db8::1',
      '203.0.113.7',
    ])
      assert.equal(matches(address), true, address);
    for (const address of ['203.0.113.8', '169.254.1.1', '2001:db9::1', '', 'localhost'])
      assert.equal(matches(address), false, address);
    for (const entry of [
      'true',
      '*',
      '1',
      '10.0.0.0/33',
      '10.0.0.0/x',
      '1.2.3',
      'loopback/8',
      '10.0.0.0/8/1',
      '::/129',
    ])
      assert.throws(() => addressMatcher([entry]), new RegExp(entry.replace(/[*/.]/g, '\\$&')), entry);
  });
});
