// The gateway is the edge: it alone decides who the client is (TRUSTED_PROXIES, empty here), and
// the services believe only the address it forwards. A client sending forwarding headers of its own
// must not get a fresh budget from the gateway's anonymous rate limit or identity's login throttle.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { apiClient, assertProblem, type ApiClient } from './support/client.ts';
import { startSuite, type Suite } from './support/suite.ts';

const ANONYMOUS_PER_IP = 12;
const LOGIN_FAILURES_PER_IP = 3;

let suite: Suite;
let api: ApiClient;

before(async () => {
  suite = await startSuite({
    env: {
      gateway: { RATE_LIMIT_PER_IP: String(ANONYMOUS_PER_IP) },
      identity: { LOGIN_MAX_FAILURES_PER_IP: String(LOGIN_FAILURES_PER_IP), LOGIN_MAX_FAILURES: '50' },
    },
  });
  api = apiClient(suite.gatewayUrl);
});

after(() => suite?.close());

/** Every way a client might claim another address; a different one each time. */
let claims = 0;
function claimedAddress(): Record<string, string> {
  claims += 1;
  const address = `203.0.113.${claims}`;
  return {
    'X-Forwarded-For': `${address}, 10.0.0.${claims}`,
    'X-Real-IP': address,
    Forwarded: `for=${address}`,
  };
}

test("identity's login throttle, reached through the gateway, counts the client, not what it claims", async () => {
  const login = () =>
    api.call('POST', '/auth/login', {
      body: { email: `e2e-${randomUUID()}@example.test`, password: 'not the password' },
      headers: claimedAddress(),
    });
  for (let i = 0; i < LOGIN_FAILURES_PER_IP; i += 1) assertProblem(await login(), 401, 'UNAUTHENTICATED');
  const throttled = await login();
  assertProblem(throttled, 429, 'RATE_LIMITED');
  assert.ok(Number(throttled.headers.get('retry-after')) >= 1);
  assert.ok(
    Number(throttled.headers.get('ratelimit-remaining')) > 0,
    "the gateway's own limit is not reached: identity's per-IP throttle answered",
  );
});

test("the gateway's anonymous rate limit is one budget per client, whatever X-Forwarded-For says", async () => {
  const jwks = () => api.call('GET', '/auth/jwks', { headers: claimedAddress() });
  const first = await jwks();
  assert.equal(first.status, 200);
  assert.equal(first.headers.get('ratelimit-limit'), String(ANONYMOUS_PER_IP));
  // The logins of the test before came from the same client: the budget is already partly spent.
  let remaining = Number(first.headers.get('ratelimit-remaining'));
  assert.ok(remaining < ANONYMOUS_PER_IP - 1, `remaining ${remaining}`);
  while (remaining > 0) {
    const res = await jwks();
    assert.equal(res.status, 200);
    assert.equal(Number(res.headers.get('ratelimit-remaining')), remaining - 1);
    remaining -= 1;
  }
  const refused = await jwks();
  assertProblem(refused, 429, 'RATE_LIMITED');
  assert.ok(Number(refused.headers.get('retry-after')) >= 1);
});
