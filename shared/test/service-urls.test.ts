import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, describe, test } from 'node:test';
import { listen, serviceFetch } from '../src/index.ts';
import { closedPort, stopServers } from '../src/testing/index.ts';

describe('serviceFetch: a service known by the URLs of its replicas', () => {
  const servers: Server[] = [];
  after(() => stopServers(servers));

  /** A replica answering `status` with its name. */
  async function replica(name: string, status = 200): Promise<string> {
    const server = createServer((_req, res) => res.writeHead(status).end(name));
    servers.push(server);
    return `http://127.0.0.1:${await listen(server, 0, '127.0.0.1')}`;
  }

  test('calls rotate over the replicas', async () => {
    const get = serviceFetch([await replica('a'), await replica('b')]);
    const answers = [];
    for (let i = 0; i < 4; i += 1) answers.push(await (await get('/x')).text());
    assert.deepEqual(answers, ['a', 'b', 'a', 'b']);
  });

  test('a replica that refuses connections or answers 503 passes the call on', async () => {
    const down = `http://127.0.0.1:${await closedPort()}`;
    const draining = await replica('draining', 503);
    const get = serviceFetch([down, draining, await replica('live')]);
    for (let i = 0; i < 3; i += 1) assert.equal(await (await get('/x')).text(), 'live');
  });

  test("the last replica's answer is the caller's, and with none reachable its error", async () => {
    const only503 = serviceFetch([await replica('draining', 503)]);
    assert.equal((await only503('/x')).status, 503);
    const none = serviceFetch([`http://127.0.0.1:${await closedPort()}`]);
    await assert.rejects(none('/x'), /fetch failed/);
  });
});
