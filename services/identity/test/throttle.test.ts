import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { QueryTypes } from 'sequelize';
import { AppError } from '@trellis/shared';
import { clientAddress } from '../src/throttle/client-address.ts';
import { PASSWORD, register, startIdentity, uniqueIp, type Identity } from './helpers.ts';

// The login throttle through AuthService.login, which takes the client address as the route
// hands it over (req.ip): every address is whatever the test says, on the real PostgreSQL.

let identity: Identity;

before(async () => {
  identity = await startIdentity();
});

after(() => identity.close());

type Outcome = { status: 200 } | { status: number; retryAfter?: number };

async function login(email: string, password: string, ip: string): Promise<Outcome> {
  try {
    await identity.services.auth.login({ email, password }, ip);
    return { status: 200 };
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    const retryAfter = err.headers?.['Retry-After'];
    return retryAfter === undefined
      ? { status: err.status }
      : { status: err.status, retryAfter: Number(retryAfter) };
  }
}

/** Wrong passwords for `email`, each from an address of its own. */
async function guessFromEverywhere(email: string, count: number): Promise<void> {
  for (let i = 0; i < count; i += 1)
    assert.deepEqual(await login(email, 'wrong-password', uniqueIp()), { status: 401 });
}

describe('login throttle', () => {
  test('distributed guessing makes new addresses back off for seconds; an address the owner signed in from does not wait', async () => {
    const { email } = await register(identity.app);
    const home = uniqueIp();
    assert.deepEqual(await login(email, PASSWORD, home), { status: 200 });
    await guessFromEverywhere(email, identity.config.LOGIN_ACCOUNT_BACKOFF_AFTER);

    const travelling = uniqueIp();
    assert.deepEqual(await login(email, PASSWORD, travelling), { status: 429, retryAfter: 1 });
    assert.deepEqual(await login(email, PASSWORD, home), { status: 200 }, 'the familiar address is spared');
    // A backoff, not a lockout: once it has passed, the right password gets in from anywhere.
    await sleep(1_100);
    assert.deepEqual(await login(email, PASSWORD, travelling), { status: 200 });
  });

  test('the backoff doubles with each further failure up to LOGIN_ACCOUNT_BACKOFF_MAX_SECONDS', async () => {
    const { email } = await register(identity.app);
    const { LOGIN_ACCOUNT_BACKOFF_AFTER: after, LOGIN_ACCOUNT_BACKOFF_MAX_SECONDS: max } = identity.config;
    await guessFromEverywhere(email, after);
    const setFailures = (failures: number) =>
      identity.harness.runtime.sequelize.query(
        'UPDATE login_failures SET failures = :failures, last_failure_at = now() WHERE key = :key',
        { replacements: { failures, key: `email:${email}` } },
      );
    for (const [failures, wait] of [
      [after + 1, 2],
      [after + 3, 8],
      [after + 5, 32],
      [after + 6, max],
      [after + 1_000, max],
    ] as const) {
      await setFailures(failures);
      assert.deepEqual(
        await login(email, PASSWORD, uniqueIp()),
        { status: 429, retryAfter: wait },
        `${failures}`,
      );
    }
  });

  test('parallel guesses from one address: exactly LOGIN_MAX_FAILURES are checked, the others get 429', async () => {
    const { email } = await register(identity.app);
    const ip = uniqueIp();
    const outcomes = await Promise.all(
      Array.from({ length: 30 }, () => login(email, 'wrong-password', ip).then((o) => o.status)),
    );
    const count = (status: number) => outcomes.filter((s) => s === status).length;
    assert.equal(count(401), identity.config.LOGIN_MAX_FAILURES, JSON.stringify(outcomes));
    assert.equal(count(429), 30 - identity.config.LOGIN_MAX_FAILURES);
    assert.deepEqual(await login(email, PASSWORD, uniqueIp()), { status: 200 }, 'the owner elsewhere');
  });

  test('one address locked out of one account still reaches the others', async () => {
    const [victim, other] = [await register(identity.app), await register(identity.app)];
    const shared = uniqueIp();
    for (let i = 0; i < identity.config.LOGIN_MAX_FAILURES; i += 1)
      assert.equal((await login(victim.email, 'wrong-password', shared)).status, 401);
    assert.equal((await login(victim.email, PASSWORD, shared)).status, 429);
    assert.deepEqual(await login(other.email, PASSWORD, shared), { status: 200 });
  });

  test('an IPv6 client is counted per /64: rotating addresses inside it buys no fresh guesses', async () => {
    const { email } = await register(identity.app);
    for (let i = 0; i < identity.config.LOGIN_MAX_FAILURES; i += 1)
      assert.equal(
        (await login(email, 'wrong-password', `2001:db8:7:9::${(i + 1).toString(16)}`)).status,
        401,
      );
    assert.equal((await login(email, PASSWORD, '2001:db8:7:9:ffff::1')).status, 429);
    assert.deepEqual(await login(email, PASSWORD, '2001:db8:7:a::1'), { status: 200 }, 'the next /64');
  });

  test('the sweep drops counters whose window has passed and addresses unused for 30 days', async () => {
    const { email } = await register(identity.app);
    const ip = uniqueIp();
    assert.equal((await login(email, 'wrong-password', ip)).status, 401);
    assert.equal((await login(email, PASSWORD, ip)).status, 200);
    const { sequelize } = identity.harness.runtime;
    await sequelize.query(
      "UPDATE login_failures SET window_start = now() - interval '1 day' WHERE key LIKE :pattern",
      { replacements: { pattern: `%${email}` } },
    );
    await sequelize.query(
      "UPDATE login_known_addresses SET last_login_at = now() - interval '31 days' WHERE address = :ip",
      { replacements: { ip } },
    );
    await identity.services.throttle.sweep();
    const left = await sequelize.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM login_failures WHERE key LIKE :pattern)::int
            + (SELECT count(*) FROM login_known_addresses WHERE address = :ip)::int AS n`,
      { replacements: { pattern: `%${email}`, ip }, type: QueryTypes.SELECT },
    );
    assert.equal(left[0]?.n, 0);
  });
});

describe('client address', () => {
  test('IPv4 as is (also IPv4-mapped), IPv6 as its /64, nothing as unknown', () => {
    assert.equal(clientAddress('203.0.113.7'), '203.0.113.7');
    assert.equal(clientAddress('::ffff:203.0.113.7'), '203.0.113.7');
    assert.equal(clientAddress('2001:db8:7:9::1'), '2001:db8:7:9::/64');
    assert.equal(clientAddress('2001:0db8:0007:0009:abcd:1:2:3'), '2001:db8:7:9::/64');
    assert.equal(clientAddress('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(clientAddress('::1'), '0:0:0:0::/64');
    assert.equal(clientAddress('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(clientAddress('64:ff9b::192.0.2.33'), '64:ff9b:0:0::/64');
    assert.equal(clientAddress(undefined), 'unknown');
  });
});
