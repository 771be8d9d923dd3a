import { createRequire } from 'node:module';

/**
 * kafkajs 2.2.4 (its last release) re-arms a timer in every broker connection's request queue
 * even when nothing is waiting and nothing is throttled: `throttledUntil` starts at -1, so the
 * delay is negative, Node runs it after 1 ms, and the check re-arms it. Every connection of every
 * service then wakes up 1 000 times a second for nothing (kafkajs issues #1556, #1704; the fix of
 * pull request #1667 was never released). Measured here: 30–70 ms of CPU per second per idle
 * service, and the same wake-ups steal time from the event loop under load. It is also where
 * Node 24's `TimeoutNegativeWarning` came from.
 *
 * The replacement keeps kafkajs's rules and drops only the idle loop: requests waiting behind a
 * throttle or the in-flight limit are checked when the throttle ends (or 10 ms later, kafkajs's
 * interval, if it already has), and a response or a new request checks the queue anyway.
 */
interface RequestQueueInternals {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/** kafkajs's own interval for re-checking requests that wait (`CHECK_PENDING_REQUESTS_INTERVAL`). */
const RECHECK_MS = 10;

function scheduleCheckPendingRequests(this: RequestQueueInternals): void {
  if (this.throttleCheckTimeoutId) return;
  const untilUnthrottled = this.throttledUntil - Date.now();
  if (this.pending.length === 0 && untilUnthrottled <= 0) return;
  this.throttleCheckTimeoutId = setTimeout(
    () => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    },
    untilUnthrottled > 0 ? untilUnthrottled : RECHECK_MS,
  );
}

const require = createRequire(import.meta.url);
const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as {
  prototype: RequestQueueInternals;
};

/** The class whose prototype is patched, for the tests. */
export const kafkajsRequestQueue = RequestQueue;

/** Applied once, when the Kafka wrapper is first imported; the same module kafkajs itself uses. */
RequestQueue.prototype.scheduleCheckPendingRequests = scheduleCheckPendingRequests;
