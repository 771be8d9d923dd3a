// How a consumer runs its handler (in order, pipelined or in lanes per key) and commits its offsets.
import type { Consumer, ConsumerRunConfig, KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import type { ConsumerOptions, Heartbeat } from './kafka-types.ts';

/**
 * Commits a consumer's handled offsets once per interval, not after every fetched batch (kafkajs'
 * default): at 100 events/s that was a broker write per event in each group that reads them.
 * Handlers are idempotent (inbox, upserts, unique ids), so what a crash replays — at most one
 * interval's worth — changes nothing. Stopping and rebalancing commit first.
 */
export class OffsetCommitter {
  private readonly consumer: Consumer;
  private readonly logger: Logger;
  private readonly intervalMs: number;
  private readonly beforeCommit: (() => Promise<void>) | undefined;
  /** Per `topic:partition`, the next offset to read (the one after the last handled). */
  private readonly next = new Map<string, { topic: string; partition: number; offset: string }>();
  private timer: NodeJS.Timeout | undefined;
  /** Commits run one after the other, so an older position never lands after a newer one. */
  private committing: Promise<void> = Promise.resolve();

  constructor(consumer: Consumer, logger: Logger, intervalMs: number, beforeCommit?: () => Promise<void>) {
    this.consumer = consumer;
    this.logger = logger;
    this.intervalMs = intervalMs;
    this.beforeCommit = beforeCommit;
  }

  /** Messages of a partition are handled in order: each call moves its position forward. */
  handled(topic: string, partition: number, offset: string): void {
    this.next.set(`${topic}:${partition}`, { topic, partition, offset: (BigInt(offset) + 1n).toString() });
  }

  start(): void {
    this.timer = setInterval(() => void this.commit(), this.intervalMs);
    this.timer.unref();
  }

  commit(): Promise<void> {
    this.committing = this.committing.then(() => this.commitHandled());
    return this.committing;
  }

  private async commitHandled(): Promise<void> {
    if (this.next.size === 0) return;
    const offsets = [...this.next.entries()];
    this.next.clear();
    try {
      await this.beforeCommit?.();
      await this.consumer.commitOffsets(offsets.map(([, position]) => position));
    } catch (err) {
      // Mostly a rebalance that moved the partition: its new owner replays from the last commit.
      this.logger.debug({ err }, 'offsets not committed; the events may be handled again');
      for (const [key, position] of offsets) if (!this.next.has(key)) this.next.set(key, position);
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.commit();
  }
}

export type MessageHandler = (
  topic: string,
  partition: number,
  message: KafkaMessage,
  heartbeat: Heartbeat,
) => Promise<void>;

/**
 * How `consume` runs a consumer's handler: one event after the other (the default), a fetched
 * batch's events all at once (`pipelined`), or a batch in lanes per message key (`keyConcurrency`).
 */
export function runHandlers(
  options: ConsumerOptions,
  handle: MessageHandler,
  committer: OffsetCommitter | undefined,
): Pick<ConsumerRunConfig, 'eachMessage' | 'eachBatch' | 'eachBatchAutoResolve'> {
  const lanes = options.keyConcurrency ?? 1;
  if (options.pipelined)
    return {
      eachBatch: async ({ batch, heartbeat }) => {
        const handled = batch.messages.map((message) =>
          handle(batch.topic, batch.partition, message, heartbeat),
        );
        // Offsets advance when the whole batch is done (a failure here means the dead-letter
        // topic could not be written: the batch is fetched and handled again).
        const failed = (await Promise.allSettled(handled)).find((r) => r.status === 'rejected');
        if (failed) throw failed.reason;
        committer?.handled(batch.topic, batch.partition, batch.lastOffset());
      },
    };
  if (lanes > 1)
    return {
      // Resolved per slice below: kafkajs must not move past events a rebalance cut short.
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, heartbeat, isRunning, isStale, resolveOffset }) => {
        // A fetch can bring thousands of a partition's events: they go in slices, each committed
        // once done, so a crash replays one slice and the group's lag moves.
        for (let from = 0; from < batch.messages.length; from += LANE_SLICE) {
          const slice = batch.messages.slice(from, from + LANE_SLICE);
          const done = await handleInLanes(
            slice,
            lanes,
            (message) => handle(batch.topic, batch.partition, message, heartbeat),
            // A rebalance took the partition, or the consumer stops: the rest is redelivered
            // from the last committed offset.
            () => isRunning() && !isStale(),
            // Keeps the group session alive through a long batch (kafkajs sends at most one
            // heartbeat per interval).
            heartbeat,
          );
          if (!done) return;
          const last = slice.at(-1)!.offset;
          resolveOffset(last);
          committer?.handled(batch.topic, batch.partition, last);
        }
        // Stopping: the committer's last commit may have gone before this batch was done, and the
        // group is left once this returns; commit while it is still a member.
        if (!isRunning()) await committer?.commit();
      },
    };
  return {
    eachMessage: async ({ topic, partition, message, heartbeat }) => {
      await handle(topic, partition, message, heartbeat);
      committer?.handled(topic, partition, message.offset);
    },
  };
}

/** Events of one fetched batch handled together in `keyConcurrency` lanes (see `consume`). */
const LANE_SLICE = 200;

/**
 * Handles messages in up to `lanes` lanes at once, one per message key, each key's messages in
 * order. False when `go` turned false before all were handled.
 */
async function handleInLanes(
  messages: KafkaMessage[],
  lanes: number,
  handle: (message: KafkaMessage) => Promise<void>,
  go: () => boolean,
  heartbeat: Heartbeat,
): Promise<boolean> {
  const byKey = new Map<string, KafkaMessage[]>();
  for (const message of messages) {
    const key = message.key?.toString() ?? '';
    const lane = byKey.get(key);
    if (lane) lane.push(message);
    else byKey.set(key, [message]);
  }
  const queue = [...byKey.values()];
  let stopped = false;
  const work = async () => {
    for (let lane = queue.shift(); lane && !stopped; lane = queue.shift()) {
      for (const message of lane) {
        if (stopped || !go()) return void (stopped = true);
        try {
          await handle(message);
          await heartbeat();
        } catch (err) {
          stopped = true; // the other lanes stop too: the batch is fetched and handled again
          throw err;
        }
      }
    }
  };
  // Every lane settles before a failure is passed on, so none still runs when the batch is retried.
  const results = await Promise.allSettled(Array.from({ length: Math.min(lanes, queue.length) }, work));
  const failed = results.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  return !stopped;
}
