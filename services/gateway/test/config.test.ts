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
