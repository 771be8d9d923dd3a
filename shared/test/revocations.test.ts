import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createEvent, createLogger, followRevocations, identityEvents, type EventBus } from '../src/index.ts';
import { testBus, testKafka, waitFor } from '../src/testing/index.ts';

const logger = createLogger('revocations-test', process.env.TEST_LOG_LEVEL ?? 'silent');
const kafka = testKafka('revocations');
const TOPIC = identityEvents.sessionRevoked.topic;
let bus: EventBus;

before(async () => {
  bus = await testBus(kafka, 'revocations-test', logger, [TOPIC]);
});

after(() => bus.close());

/** identity's `session.revoked` for the access token `jti`, expiring at `expiresAt`. */
function revoke(jti: string, expiresAt = new Date(Date.now() + 60_000)) {
  const userId = randomUUID();
  const event = createEvent(identityEvents.sessionRevoked, 'identity', {
    subjectId: userId,
    actorId: userId,
    data: { userId, familyId: randomUUID(), jti, expiresAt: expiresAt.toISOString(), reason: 'logout' },
  });
  return bus.publish([{ topic: TOPIC, event }]);
}

test('a feed learns revocations from before it started and after, skips expired ones, and tells listeners', async () => {
  const [before, expired, later] = [randomUUID(), randomUUID(), randomUUID()];
  await revoke(before);
  await revoke(expired, new Date(Date.now() - 1_000));

  const revocations = await followRevocations(bus, 'test');
  const told: string[] = [];
  revocations.onRevoked((jti) => told.push(jti));
  await waitFor(() => revocations.isRevoked(before), { what: 'the earlier revocation' });
  assert.equal(revocations.isRevoked(expired), false, 'an expired token needs no entry');
  assert.equal(revocations.isRevoked(randomUUID()), false);

  const revokedAt = performance.now();
  await revoke(later);
  await waitFor(() => revocations.isRevoked(later), {
    timeoutMs: 1_000,
    intervalMs: 10,
    what: 'the new one',
  });
  assert.ok(performance.now() - revokedAt < 1_000);
  assert.deepEqual(told, [before, later]);
  assert.equal(revocations.size, 2);
});

test('every process follows in a group of its own: two feeds both learn each revocation', async () => {
  const [a, b] = await Promise.all([followRevocations(bus, 'replica'), followRevocations(bus, 'replica')]);
  const jti = randomUUID();
  await revoke(jti);
  await waitFor(() => a.isRevoked(jti) && b.isRevoked(jti), {
    what: 'both replicas to learn the revocation',
  });
});
