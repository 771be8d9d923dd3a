import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { kafkajsRequestQueue } from '../src/events/kafkajs-request-queue.ts';

interface Queue {
  pending: Array<{ send(): void; expectResponse: boolean; correlationId: number }>;
  inflight: Map<number, unknown>;
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  destroy(): void;
}

const RequestQueue = kafkajsRequestQueue as unknown as new (options: object) => Queue;
const silent = { debug: () => {}, warn: () => {}, error: () => {}, info: () => {} };
const queue = (maxInFlightRequests?: number) =>
  new RequestQueue({
    maxInFlightRequests,
    requestTimeout: 30_000,
    clientId: 'test',
    broker: 'b:1',
    logger: silent,
  });

test('the patched class is the one kafkajs connections use', () => {
  const fromConnection = createRequire(
    createRequire(import.meta.url).resolve('kafkajs/src/network/connection.js'),
  )('./requestQueue') as typeof kafkajsRequestQueue;
  assert.equal(fromConnection, kafkajsRequestQueue);
});

test('an idle queue arms no timer (kafkajs 2.2.4 re-armed one every millisecond)', () => {
  const q = queue();
  q.checkPendingRequests(); // what every response does
  assert.equal(q.throttleCheckTimeoutId, null);
  q.destroy();
});

test('a request held back by a throttle is sent when the throttle ends', async () => {
  const q = queue();
  const sent: number[] = [];
  q.throttledUntil = Date.now() + 40;
  q.pending.push({ send: () => sent.push(1), expectResponse: true, correlationId: 1 });
  q.checkPendingRequests();
  assert.deepEqual(sent, [], 'not during the throttle');
  assert.notEqual(q.throttleCheckTimeoutId, null);
  await sleep(120);
  assert.deepEqual(sent, [1]);
  assert.equal(q.throttleCheckTimeoutId, null, 'and nothing stays armed once the queue is empty');
  q.destroy();
});

test('a request held back by the in-flight limit is still re-checked', async () => {
  const q = queue(1);
  const sent: number[] = [];
  q.inflight.set(0, {});
  q.pending.push({ send: () => sent.push(2), expectResponse: true, correlationId: 2 });
  q.checkPendingRequests();
  assert.deepEqual(sent, []);
  q.inflight.clear(); // the earlier request answered without going through fulfillRequest
  await sleep(60);
  assert.deepEqual(sent, [2]);
  q.destroy();
});
