import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { closeServer, listen, unusedConnections } from '../src/index.ts';

const opened = (port: number) =>
  new Promise<Socket>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve(socket));
  });

test('closing a server ends connections that never carried a request, and waits for one in flight', async () => {
  let answer: (() => void) | undefined;
  const server = createServer((_req, res) => {
    answer = () => res.writeHead(200, { Connection: 'close' }).end('done');
  });
  const unused = unusedConnections(server);
  const port = await listen(server, 0, '127.0.0.1');
  const idle = await opened(port); // a balancer's connection opened ahead of use
  const busy = await opened(port);
  busy.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  while (!answer) await new Promise((resolve) => setTimeout(resolve, 5));

  const began = performance.now();
  let closed = false;
  const closing = closeServer(server, unused).then(() => (closed = true));
  await new Promise((resolve) => idle.once('close', resolve));
  assert.equal(closed, false, 'the request in flight keeps the server open');
  const received = new Promise<string>((resolve) => {
    let text = '';
    busy.on('data', (chunk) => (text += chunk));
    busy.once('close', () => resolve(text));
  });
  answer();
  await closing;
  assert.match(await received, /200 OK[\s\S]*\r\ndone\r\n/, 'the request in flight got its answer');
  assert.ok(performance.now() - began < 2_000, 'no wait for the unused connection to time out');
});
