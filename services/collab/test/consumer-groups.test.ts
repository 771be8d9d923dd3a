// collab's consumer groups: a backlog of task events never holds up memberships, projects or orgs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertActivitySeparated, listOnlyProjection } from '@trellis/shared/testing';
import { collabConsumers, collabSubscriptions } from '../src/events/subscriptions.ts';

test('collab: the task events in a group apart from org life', () => {
  // The list is built from the dependencies' methods without calling them.
  const unused = {} as never;
  const subscriptions = collabSubscriptions({
    projection: listOnlyProjection(),
    inbox: unused,
    channels: unused,
  });
  const groups = collabConsumers(subscriptions);
  assert.deepEqual(
    groups.map(({ groupId, topics }) => [groupId, topics.includes('work.task')]),
    [
      ['collab', true],
      ['collab-org', false],
    ],
  );
  assertActivitySeparated(groups, subscriptions);
});
