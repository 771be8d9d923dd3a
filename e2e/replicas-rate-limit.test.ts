import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { apiClient } from './support/client.ts';
import { person, type Person } from './support/people.ts';
import { startSuite, type Suite } from './support/suite.ts';

const LIMIT = 120;

/**
 * Issue 23: the per-user rate limit holds across gateway replicas (RATE_LIMIT_STORE=postgres): a
 * caller spreading requests over three gateways gets what one gateway would give (±5 %), not 3×.
 */
describe('the rate limit at 3 gateway replicas', () => {
  let suite: Suite;
  let caller: Person;

  before(async () => {
    suite = await startSuite({
      replicas: { gateway: 3 },
      env: { gateway: { RATE_LIMIT_PER_USER: String(LIMIT), RATE_LIMIT_PER_IP: '100000' } },
    });
    caller = await person(apiClient(suite.gatewayUrl), 'Limited Caller');
  });

  after(async () => {
    await suite?.close();
  });

  test(`${LIMIT * 3} requests round-robin over 3 gateways: ${LIMIT} answered (±5 %), the rest 429`, async () => {
    const gateways = suite.replicaUrls.gateway;
    assert.equal(gateways.length, 3);
    const statuses = new Map<number, number>();
    const perGateway = gateways.map(() => 0);
    // 12 at a time: concurrent calls on every replica, as real clients make them.
    for (let batch = 0; batch < (LIMIT * 3) / 12; batch += 1) {
      await Promise.all(
        Array.from({ length: 12 }, async (_, i) => {
          const which = (batch * 12 + i) % gateways.length;
          const res = await fetch(`${gateways[which]}/api/v1/users/me`, {
            headers: { Authorization: `Bearer ${caller.token}` },
          });
          await res.body?.cancel();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status === 200) perGateway[which] = (perGateway[which] ?? 0) + 1;
        }),
      );
    }
    const answered = statuses.get(200) ?? 0;
    console.log(
      `  ${LIMIT * 3} requests: ${answered} answered (per gateway ${perGateway.join(', ')}), ${statuses.get(429) ?? 0} × 429`,
    );
    assert.deepEqual([...statuses.keys()].sort(), [200, 429], JSON.stringify([...statuses]));
    assert.ok(answered <= LIMIT, `never more than the limit (${answered})`);
    assert.ok(answered >= LIMIT * 0.95, `within 5 % of it (${answered})`);
    assert.ok(
      perGateway.every((n) => n > 0),
      'every gateway served some',
    );
  });
});
