import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RecentLoads, RecentMap } from '../src/cache/recent-map.ts';

test('RecentMap: entries count while younger than the TTL; past maxEntries the oldest set go first', async () => {
  const map = new RecentMap<number>({ ttlMs: 50, maxEntries: 2 });
  map.set('a', 1);
  map.set('b', 2);
  map.set('c', 3);
  assert.equal(map.get('a'), undefined, 'evicted');
  assert.equal(map.get('b'), 2);
  map.set('old', 4, Date.now() - 60);
  assert.equal(map.get('old'), undefined, 'known since before the TTL');
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(map.get('c'), undefined, 'expired');
});

test('RecentLoads: concurrent asks share one load; only kept values stay; a failed load is asked again', async () => {
  let loads = 0;
  const found = new RecentLoads<string | null>({ ttlMs: 10_000, keep: (value) => value !== null });
  const load = (value: string | null) => async () => {
    loads += 1;
    await new Promise((resolve) => setTimeout(resolve, 10));
    return value;
  };
  const answers = await Promise.all(Array.from({ length: 8 }, () => found.get('u1', load('Ada'))));
  assert.deepEqual(new Set(answers), new Set(['Ada']));
  assert.equal(loads, 1, 'eight asks in flight, one load');
  assert.equal(await found.get('u1', load('other')), 'Ada', 'kept');
  assert.equal(loads, 1);

  assert.equal(await found.get('u2', load(null)), null);
  assert.equal(await found.get('u2', load('Grace')), 'Grace', 'a value not kept is loaded again');
  assert.equal(loads, 3);

  await assert.rejects(
    found.get('u3', async () => {
      throw new Error('store down');
    }),
    /store down/,
  );
  assert.equal(await found.get('u3', load('back')), 'back', 'a failure is not kept');
  found.clear();
  assert.equal(await found.get('u1', load('fresh')), 'fresh', 'cleared');
});
