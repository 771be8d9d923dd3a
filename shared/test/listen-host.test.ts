import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { baseEnvSchema, closeServer, ConfigError, listen, loadConfig } from '../src/index.ts';

const env = { PORT: '0', KAFKA_BROKERS: 'localhost:9092' };

test('HOST defaults to loopback and takes IP addresses only', () => {
  assert.equal(loadConfig(baseEnvSchema, env).HOST, '127.0.0.1');
  for (const host of ['0.0.0.0', '::', '10.1.2.3', '::1'])
    assert.equal(loadConfig(baseEnvSchema, { ...env, HOST: host }).HOST, host);
  for (const host of ['', 'localhost', 'my-host.example', '0.0.0.0:80', '300.1.1.1']) {
    assert.throws(
      () => loadConfig(baseEnvSchema, { ...env, HOST: host }),
      (err) => err instanceof ConfigError && err.issues.some((issue) => issue.startsWith('HOST:')),
      host,
    );
  }
});

test('a server listens on the configured host only', async () => {
  const server = createServer();
  await listen(server, 0, loadConfig(baseEnvSchema, env).HOST);
  try {
    assert.deepEqual((server.address() as { address: string }).address, '127.0.0.1');
  } finally {
    await closeServer(server);
  }
});
