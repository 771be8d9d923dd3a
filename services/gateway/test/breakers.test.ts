import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { testLogger } from '@trellis/shared/testing';
import {
  CallerBudget,
  isUpstreamFailure,
  UpstreamBreakers,
  type BreakerSettings,
  type CallOutcome,
} from '../src/routing/breakers.ts';

const settings: BreakerSettings = { errorPercent: 50, volume: 3, resetMs: 60_000, failuresPerCaller: 2 };

function breakers(overrides: Partial<BreakerSettings> = {}) {
  const registry = new Registry();
  return {
    registry,
    breakers: new UpstreamBreakers({ ...settings, ...overrides }, testLogger('breakers'), registry),
  };
}

async function isOpen(registry: Registry): Promise<boolean> {
  return /gateway_breaker_open\{[^}]*upstream="work"[^}]*\} 1/.test(await registry.metrics());
}

const answered = (status: number): CallOutcome => ({ kind: 'answered', status });
const refused: CallOutcome = { kind: 'failed', code: 'ECONNREFUSED' };

describe('upstream breakers', () => {
  test('only what tells of the upstream counts: unreachable, timed out, 502, 503, 504', () => {
    const counted: CallOutcome[] = [
      answered(502),
      answered(503),
      answered(504),
      { kind: 'timedOut' },
      refused,
      { kind: 'failed', code: 'ECONNRESET' },
      { kind: 'failed', code: 'EHOSTUNREACH' },
      { kind: 'failed', code: 'ENOTFOUND' },
    ];
    const notCounted: CallOutcome[] = [
      answered(200),
      answered(404),
      answered(429),
      answered(500),
      answered(501),
      answered(505),
      { kind: 'failed', code: undefined },
      { kind: 'failed', code: 'HPE_INVALID_CONSTANT' },
      { kind: 'abandoned' },
    ];
    for (const outcome of counted) assert.equal(isUpstreamFailure(outcome), true, JSON.stringify(outcome));
    for (const outcome of notCounted)
      assert.equal(isUpstreamFailure(outcome), false, JSON.stringify(outcome));
  });

  test('a caller budget holds failures and calls in flight, per caller, until the minute ends', () => {
    let now = 60_000 * 1_000;
    const budget = new CallerBudget(2, () => now);
    assert.ok(budget.reserve('user:a'));
    assert.ok(budget.reserve('user:a'));
    assert.equal(budget.reserve('user:a'), false, 'two calls in flight use up a budget of two');
    assert.ok(budget.reserve('user:b'), 'another caller has a budget of their own');
    budget.settle('user:a', false);
    assert.ok(budget.reserve('user:a'), 'a success gives its place back');
    budget.settle('user:a', true);
    budget.settle('user:a', true);
    assert.equal(budget.reserve('user:a'), false, 'two failures use it up');
    now += 59_999 - (now % 60_000);
    assert.equal(budget.reserve('user:a'), false, 'for the rest of the minute');
    now += 1;
    assert.ok(budget.reserve('user:a'), 'a new minute, a new budget');
  });

  test('no single caller opens a breaker, not even with concurrent calls; two callers do', async () => {
    const { registry, breakers: guard } = breakers();
    try {
      const calls = Array.from({ length: 10 }, () =>
        guard.run('work', 'ip:203.0.113.7', async () => refused),
      );
      assert.deepEqual(await Promise.all(calls), Array(10).fill(true), 'each call answered by its work');
      assert.equal(await isOpen(registry), false, 'only two of the ten were seen');
      assert.match(
        await registry.metrics(),
        /gateway_breaker_unseen_failures_total\{[^}]*upstream="work"[^}]*\} 8/,
      );

      assert.equal(await guard.run('work', 'user:other', async () => refused), true);
      assert.equal(await isOpen(registry), true, 'three failures of three calls, from two callers');
      let ran = false;
      const admitted = await guard.run('work', 'ip:203.0.113.7', async () => {
        ran = true;
        return answered(200);
      });
      assert.deepEqual([admitted, ran], [false, false], 'an open breaker refuses the over-budget caller too');
    } finally {
      guard.shutdown();
    }
  });

  test('calls past a budget count as nothing: they neither fail nor dilute a real outage', async () => {
    const { registry, breakers: guard } = breakers({ volume: 4 });
    try {
      // A busy caller with five calls in flight, which will succeed: two are seen, three are not.
      const slow = Promise.withResolvers<void>();
      const busy = Array.from({ length: 5 }, () =>
        guard.run('work', 'user:busy', async () => {
          await slow.promise;
          return answered(200);
        }),
      );
      // Meanwhile the upstream times out for everyone else. Had all five busy calls been seen, four
      // failures in nine calls (44 %) would not open it; with two seen, three in five already do.
      for (const caller of ['user:a', 'user:b', 'user:c', 'user:d'])
        await guard.run('work', caller, async () => ({ kind: 'timedOut' }));
      assert.equal(await isOpen(registry), true);
      slow.resolve();
      await Promise.all(busy);
    } finally {
      guard.shutdown();
    }
  });

  test('a 500 storm leaves the breaker closed', async () => {
    const { registry, breakers: guard } = breakers({ failuresPerCaller: 100 });
    try {
      for (let i = 0; i < 20; i += 1) await guard.run('work', `user:${i % 3}`, async () => answered(500));
      assert.equal(await isOpen(registry), false);
    } finally {
      guard.shutdown();
    }
  });
});
