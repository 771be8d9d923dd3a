import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { send } from '../src/webhooks/sender.ts';
import { isPrivateAddress, refusal } from '../src/webhooks/target-guard.ts';

const open = { allowHttp: true, allowPrivateNetworks: true };
let base: string;
let requests = 0;
const server = http.createServer((req, res) => {
  requests += 1;
  if (req.url === '/redirect') res.writeHead(302, { location: '/ok' }).end();
  else if (req.url === '/slow') setTimeout(() => res.writeHead(200).end(), 2_000);
  else if (req.url === '/huge') {
    res.writeHead(200);
    res.end('x'.repeat(1 << 20));
  } else res.writeHead(200).end('ok');
});

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

describe('webhook sender', () => {
  test('a redirect is a failure and is not followed', async () => {
    requests = 0;
    const result = await send(`${base}/redirect`, {}, '{}', { timeoutMs: 1_000, policy: open });
    assert.equal(result.status, 302);
    assert.equal(requests, 1);
  });

  test('no answer within the timeout: no status, "timed out"', async () => {
    const result = await send(`${base}/slow`, {}, '{}', { timeoutMs: 200, policy: open });
    assert.equal(result.status, null);
    assert.equal(result.error, 'timed out');
    assert.ok(result.durationMs < 1_000);
  });

  test('a huge answer is cut after 4 KiB; the status still counts', async () => {
    const result = await send(`${base}/huge`, {}, '{}', { timeoutMs: 2_000, policy: open });
    assert.equal(result.status, 200);
  });

  test('a private address is refused when connecting, even if the URL was accepted', async () => {
    const result = await send(`${base}/ok`, {}, '{}', {
      timeoutMs: 1_000,
      policy: { allowHttp: true, allowPrivateNetworks: false },
    });
    assert.equal(result.status, null);
    assert.equal(result.error, 'address not allowed');
  });
});

describe('webhook targets', () => {
  test('address ranges', () => {
    for (const address of [
      '127.0.0.1',
      '10.0.0.1',
      '172.16.5.4',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '::1',
      'fe80::1',
      'fd00:ec2::254',
      '::ffff:127.0.0.1',
      '0.0.0.0',
    ])
      assert.equal(isPrivateAddress(address), true, address);
    for (const address of ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946', '8.8.8.8'])
      assert.equal(isPrivateAddress(address), false, address);
  });

  test('schemes, credentials and fragments', async () => {
    const strict = { allowHttp: false, allowPrivateNetworks: false };
    assert.match((await refusal('http://93.184.216.34/x', strict)) ?? '', /https/);
    assert.match((await refusal('ftp://93.184.216.34/x', open)) ?? '', /https or http/);
    assert.match((await refusal('https://user:pw@93.184.216.34/x', strict)) ?? '', /credentials/);
    assert.match((await refusal('https://93.184.216.34/x#y', strict)) ?? '', /fragment/);
    assert.equal(await refusal('https://93.184.216.34/x', strict), null);
    assert.match((await refusal('not a url', strict)) ?? '', /absolute URL/);
  });
});
