import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { deleteStaleTestTopics, deleteTopicsWithPrefix, testKafka, waitFor } from '../src/testing/index.ts';

/** The broker's topics, once none of `gone` is among them (deletion completes in the background). */
const topicsOnceGone = (admin: Admin, gone: string[], what: string) =>
  waitFor(
    async () => {
      const topics = await admin.listTopics();
      return gone.some((t) => topics.includes(t)) ? undefined : topics;
    },
    { what },
  );

test('test topics of finished runs are deleted; a running one’s and other topics stay', async () => {
  const { brokers } = testKafka('stale');
  const hour = 60 * 60_000;
  const name = (age: number, topic: string) =>
    `t_stale_${(Date.now() - age).toString(36)}_${Math.random().toString(16).slice(2, 8).padEnd(6, '0')}.${topic}`;
  const old = [name(3 * hour, 'work.task'), name(3 * hour, 'work.task.dlq')];
  const running = name(60_000, 'work.task');
  const unrelated = `not_a_test_${Date.now().toString(36)}`;
  const admin = new Kafka({ clientId: 'stale-test', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [...old, running, unrelated].map((topic) => ({ topic, numPartitions: 1 })),
      waitForLeaders: true,
    });
    const progress: Array<[number, number]> = [];
    const deleted = await deleteStaleTestTopics(brokers, {
      olderThanMs: 2 * hour,
      onProgress: (done, total) => progress.push([done, total]),
    });
    assert.ok(deleted >= 2, `at least the two old topics (deleted ${deleted})`);
    assert.deepEqual(progress.at(-1), [deleted, deleted]);
    const left = await topicsOnceGone(admin, old, 'the old topics gone');
    assert.ok(left.includes(running), 'a run younger than the cutoff keeps its topics');
    assert.ok(left.includes(unrelated), 'topics that are not test topics stay');
    await admin.deleteTopics({ topics: [running, unrelated] });
  } finally {
    await admin.disconnect();
  }
});

test('a run’s own topics are deleted by their prefix; others stay', async () => {
  const { brokers, topicPrefix } = testKafka('own');
  const { topicPrefix: otherPrefix } = testKafka('other');
  const own = [`${topicPrefix}work.task`, `${topicPrefix}work.task.dlq`];
  const other = `${otherPrefix}work.task`;
  const admin = new Kafka({ clientId: 'own-topics-test', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [...own, other].map((topic) => ({ topic, numPartitions: 1 })),
      waitForLeaders: true,
    });
    assert.equal(await deleteTopicsWithPrefix(brokers, topicPrefix), 2);
    const left = await topicsOnceGone(admin, own, 'the run’s own topics gone');
    assert.ok(left.includes(other), 'another run’s topic stays');
    await assert.rejects(deleteTopicsWithPrefix(brokers, ''), /prefix is required/);
    await admin.deleteTopics({ topics: [other] });
  } finally {
    await admin.disconnect();
  }
});
