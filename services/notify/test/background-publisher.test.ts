import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEvent, realtimeEvents, type EventEnvelope } from '@trellis/shared';
import { testLogger } from '@trellis/shared/testing';
import { BackgroundPublisher } from '../src/realtime/background-publisher.ts';

const logger = testLogger('background-publisher');

const accessChanged = () =>
  createEvent(realtimeEvents.realtimeAccessChanged, 'notify', {
    subjectId: 'someone',
    data: { orgId: null, userIds: [] },
  });

/** A publish that fails its first `failures` calls, then takes everything; it records what it took. */
function flakyPublish(failures: number) {
  const taken: string[] = [];
  let calls = 0;
  const publish = async (events: EventEnvelope[]) => {
    calls += 1;
    if (calls <= failures) throw new Error(`broker unavailable (call ${calls})`);
    taken.push(...events.map((e) => e.id));
  };
  return { publish, taken, calls: () => calls };
}

test('a failed publish is retried until taken, and settled() waits for it', async () => {
  const broker = flakyPublish(2);
  const publisher = new BackgroundPublisher(broker.publish, logger);
  const event = accessChanged();
  publisher.send([event]);
  assert.deepEqual(broker.taken, [], 'send() returns before the publish is taken');
  await publisher.settled();
  assert.equal(broker.calls(), 3, 'two failures, then the third attempt is taken');
  assert.deepEqual(broker.taken, [event.id]);
  await publisher.settled(); // nothing pending: resolves at once
});

test('after stop() a failing publish is given up, and settled() rejects from then on', async () => {
  const broker = flakyPublish(Number.POSITIVE_INFINITY);
  const publisher = new BackgroundPublisher(broker.publish, logger);
  publisher.stop();
  publisher.send([accessChanged()]);
  await assert.rejects(publisher.settled(), /not published/);
  assert.equal(broker.calls(), 1, 'no retry once stopped');
  await assert.rejects(publisher.settled(), /not published/, 'offsets past the lost events stay uncommitted');
});
