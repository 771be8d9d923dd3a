// notify's consumer groups: a backlog on the activity topics never holds up access changes or mail.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertActivitySeparated, listOnlyProjection } from '@trellis/shared/testing';
import { notifyConsumers, notifySubscriptions, type SubscriptionDeps } from '../src/events/subscriptions.ts';

test('notify: activity topics, org life and mail in three groups that never share a topic', () => {
  // The list is built from the dependencies' methods without calling them.
  const subscriptions = notifySubscriptions({
    ...({} as SubscriptionDeps),
    projection: listOnlyProjection(),
  });
  const groups = notifyConsumers(subscriptions);
  assert.deepEqual(
    groups.map(({ groupId }) => groupId),
    ['notify', 'notify-org', 'notify-mail'],
  );
  assertActivitySeparated(groups, subscriptions);
  const org = groups.find(({ groupId }) => groupId === 'notify-org')!;
  for (const topic of ['governance.membership', 'work.project', 'identity.user'])
    assert.ok(org.topics.includes(topic), `notify-org reads ${topic}`);
  const activity = groups.find(({ groupId }) => groupId === 'notify')!;
  assert.ok(activity.topics.includes('work.task'));
});
