import assert from 'node:assert/strict';
import { projectionSubscriptions, type AccessProjection, type ProjectionWriter } from '../access/index.ts';
import type { ConsumerOptions } from '../events/kafka.ts';
import type { Subscription } from '../events/subscriptions.ts';
import { ACTIVITY_TOPICS } from '../events/topics.ts';

/**
 * A projection whose subscription list can be built without a database: for checks of a service's
 * subscription lists and groups, which build handlers without calling them.
 */
export function listOnlyProjection(): AccessProjection {
  return {
    subscriptions: (inbox) => projectionSubscriptions({} as ProjectionWriter, inbox, 'check-access'),
  } as AccessProjection;
}

/**
 * A backlog on the activity topics never holds up anything else only if no consumer group mixes
 * them with other topics (Kafka moves each group on its own); and every topic the service subscribes
 * to must be read by exactly one of its groups.
 */
export function assertActivitySeparated(groups: ConsumerOptions[], subscriptions: Subscription[]): void {
  for (const { groupId, topics } of groups) {
    const others = topics.filter((topic) => !ACTIVITY_TOPICS.has(topic));
    assert.ok(
      others.length === 0 || others.length === topics.length,
      `group ${groupId} mixes activity topics with ${others.join(', ')}`,
    );
  }
  assert.deepEqual(
    groups.flatMap(({ topics }) => topics).sort(),
    [...new Set(subscriptions.map((s) => s.topic))].sort(),
    'each subscribed topic is read by exactly one group',
  );
}
