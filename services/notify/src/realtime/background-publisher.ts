import { setTimeout as sleep } from 'node:timers/promises';
import type { EventEnvelope, Logger } from '@trellis/shared';

const RETRY_BASE_MS = 100;
const RETRY_MAX_MS = 5_000;

/**
 * Publishes the hub's fan-out events without holding up the source consumer: its handler returns
 * once the seqs are assigned and this replica's sockets have the events, so the next fetch starts
 * without waiting for Kafka's acknowledgement. A failed publish is retried until Kafka takes it.
 *
 * Nothing is lost: the source consumer commits its offsets only after `settled()` (its
 * `beforeCommit`). A replica that dies with publishes pending has those events redelivered to it
 * or another replica, sequenced again (the history returns the same seqs) and published then.
 */
export class BackgroundPublisher {
  private readonly publish: (events: EventEnvelope[]) => Promise<void>;
  private readonly logger: Logger;
  private readonly pending = new Set<Promise<void>>();
  private stopped = false;
  /** Once a publish has been given up (at shutdown), no later commit may pass the events it carried. */
  private gaveUp = false;

  constructor(publish: (events: EventEnvelope[]) => Promise<void>, logger: Logger) {
    this.publish = publish;
    this.logger = logger;
  }

  /**
   * Starts publishing `events`. While Kafka is up they go out in the order of the calls; one that had
   * to be retried may land after later ones, which a receiving hub fills in from the history.
   */
  send(events: EventEnvelope[]): void {
    const sending = this.sendUntilTaken(events);
    this.pending.add(sending);
    sending
      .catch(() => {
        this.gaveUp = true;
      })
      .finally(() => this.pending.delete(sending));
  }

  /** Resolves once everything sent so far has been taken by Kafka; rejects if any was given up. */
  async settled(): Promise<void> {
    await Promise.allSettled(this.pending);
    if (this.gaveUp) throw new Error('realtime events were not published; their offsets stay uncommitted');
  }

  /** Failing publishes stop retrying (the ones in flight still finish); `settled()` then rejects. */
  stop(): void {
    this.stopped = true;
  }

  private async sendUntilTaken(events: EventEnvelope[]): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.publish(events);
        return;
      } catch (err) {
        if (this.stopped) throw err;
        this.logger.warn({ err, attempt }, 'realtime fan-out publish failed; retrying');
        await sleep(Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (attempt - 1)));
      }
    }
  }
}
