import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '@trellis/shared';
import { readConfig } from '../src/config.ts';

const required = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  IDENTITY_URL: 'http://127.0.0.1:8081',
  GOVERNANCE_URL: 'http://127.0.0.1:8082',
  WORK_URL: 'http://127.0.0.1:8083',
  COLLAB_URL: 'http://127.0.0.1:8084',
  NOTIFY_URL: 'http://127.0.0.1:8085',
};

test('by default the gateway is the edge and each caller may add 5 breaker failures a minute', () => {
  const config = readConfig(required);
  assert.deepEqual(config.TRUSTED_PROXIES, []);
  assert.equal(config.BREAKER_FAILURES_PER_CALLER, 5);
});

test('TRUSTED_PROXIES takes addresses, CIDRs and keywords, and refuses anything else at start-up', () => {
  const listed = readConfig({ ...required, TRUSTED_PROXIES: ' 10.0.0.0/8, loopback,2001:db8::1 ' });
  assert.deepEqual(listed.TRUSTED_PROXIES, ['10.0.0.0/8', 'loopback', '2001:db8::1']);
  assert.throws(
    () => readConfig({ ...required, TRUSTED_PROXIES: 'true, 10.0.0.0/33', BREAKER_FAILURES_PER_CALLER: '0' }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.issues.map((issue) => issue.split(':')[0]).sort(), [
        'BREAKER_FAILURES_PER_CALLER',
        'TRUSTED_PROXIES',
        'TRUSTED_PROXIES',
      ]);
      return true;
    },
  );
});

test('RATE_LIMIT_STORE is memory by default; postgres needs DATABASE_URL, said at start-up', () => {
  assert.equal(readConfig(required).RATE_LIMIT_STORE, 'memory');
  const url = 'postgres://trellis:secret@127.0.0.1:5432/trellis_gateway';
  const shared = readConfig({ ...required, RATE_LIMIT_STORE: 'postgres', DATABASE_URL: url });
  assert.equal(shared.DATABASE_URL, url);
  assert.throws(
    () => readConfig({ ...required, RATE_LIMIT_STORE: 'postgres', BREAKER_VOLUME: '0' }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.issues.sort(), [
        'BREAKER_VOLUME: Too small: expected number to be >0',
        'DATABASE_URL: required when RATE_LIMIT_STORE=postgres',
      ]);
      return true;
    },
  );
  assert.throws(() => readConfig({ ...required, RATE_LIMIT_STORE: 'redis' }), ConfigError);
});
