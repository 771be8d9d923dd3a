import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { RealtimeEvent } from './channels.ts';

/** From the write that caused an event to a socket: outbox, Kafka, seq, fan-out (normally < 1 s). */
const LATENCY_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface RealtimeMetrics {
  /** An event sent to a socket: `live` as it happened (its latency counts), or replayed from the history. */
  delivered: (event: RealtimeEvent, live: boolean) => void;
  /** Reads the number of open sockets whenever scraped. */
  countSockets: (count: () => number) => void;
}

/**
 * The hub's metrics, on `registry` (none when absent):
 * - `realtime_sockets_open`: WebSocket connections open on this replica;
 * - `realtime_events_delivered_total`: events sent to subscribers, replays included;
 * - `realtime_delivery_latency_seconds`: from the event's `occurredAt` to its sending, live events only.
 */
export function realtimeMetrics(registry: Registry | undefined): RealtimeMetrics {
  const registers = registry ? [registry] : [];
  const delivered = new Counter({
    name: 'realtime_events_delivered_total',
    help: 'Events sent to WebSocket subscribers (replays included)',
    registers,
  });
  const latency = new Histogram({
    name: 'realtime_delivery_latency_seconds',
    help: 'Time from an event occurring to its delivery on a WebSocket (live deliveries, not replays)',
    buckets: LATENCY_BUCKETS,
    registers,
  });
  return {
    delivered: (event, live) => {
      delivered.inc();
      if (!live) return;
      const occurred = Date.parse(event.occurredAt);
      if (Number.isFinite(occurred)) latency.observe(Math.max(0, Date.now() - occurred) / 1_000);
    },
    countSockets: (count) => {
      new Gauge({
        name: 'realtime_sockets_open',
        help: 'Open WebSocket connections on this replica',
        registers,
        collect() {
          this.set(count());
        },
      });
    },
  };
}
