// Metrics of the event bus's consuming side: handler duration and failures per event type, messages
// parked on the dead-letter topics, and each committing group's lag (read from Kafka when scraped).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { EventBus } from '../events/kafka.ts';
import type { ConsumerObserver } from '../events/kafka-types.ts';
import { dlqTopic } from '../events/topics.ts';
import { scrapeCache } from './scrape-cache.ts';

/** Handlers mostly take milliseconds (one store write); a slow one waits on a fallback or SMTP. */
const HANDLER_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface EventMetricsOptions {
  /** Lag and dead-letter sizes are read at most this often (default 10 s). */
  lagCacheMs?: number;
  /** A lag read slower than this leaves the lag out of the scrape (default 3 s). */
  lagTimeoutMs?: number;
}

/**
 * Registers the bus's metrics on `registry` and has the bus report to them:
 * - `event_handler_duration_seconds{consumer,event_type}`: each run of a handler (retries included);
 * - `event_handler_failures_total{consumer,event_type}`: runs that threw;
 * - `events_dead_lettered_total{consumer,topic,reason}`: messages parked on `<topic>.dlq`;
 * - `kafka_consumer_lag_messages{group,topic,partition}`: per committing group, the log's end minus
 *   its committed offset — the same for every replica, so dashboards take the max;
 * - `kafka_dead_letter_messages{topic}`: what the dead-letter topics of its groups' topics hold.
 * The last two are read from Kafka when scraped, cached and bounded in time (`scrapeCache`).
 */
export function observeEventBus(registry: Registry, bus: EventBus, options: EventMetricsOptions = {}): void {
  if (registry.getSingleMetric('event_handler_duration_seconds')) return;
  const duration = new Histogram({
    name: 'event_handler_duration_seconds',
    help: 'Time a consumer handler took for one event (each attempt), by consumer and event type',
    labelNames: ['consumer', 'event_type'] as const,
    buckets: HANDLER_BUCKETS,
    registers: [registry],
  });
  const failures = new Counter({
    name: 'event_handler_failures_total',
    help: 'Handler attempts that threw (retried, then dead-lettered after the last), by consumer and event type',
    labelNames: ['consumer', 'event_type'] as const,
    registers: [registry],
  });
  const deadLettered = new Counter({
    name: 'events_dead_lettered_total',
    help: 'Messages sent to a dead-letter topic (<topic>.dlq), by consumer, source topic and reason',
    labelNames: ['consumer', 'topic', 'reason'] as const,
    registers: [registry],
  });
  const observer: ConsumerObserver = {
    handled: (consumer, eventType, seconds, failed) => {
      duration.observe({ consumer, event_type: eventType }, seconds);
      if (failed) failures.inc({ consumer, event_type: eventType });
    },
    deadLettered: (consumer, topic, reason) => deadLettered.inc({ consumer, topic, reason }),
  };
  bus.observe(observer);

  const offsets = scrapeCache(
    async () => {
      const groups = bus.committingGroups();
      const dlqs = [...new Set(groups.flatMap((group) => group.topics.map(dlqTopic)))];
      return bus.offsets(groups, dlqs);
    },
    { ttlMs: options.lagCacheMs ?? 10_000, timeoutMs: options.lagTimeoutMs ?? 3_000 },
  );
  new Gauge({
    name: 'kafka_consumer_lag_messages',
    help: 'Messages a consumer group has yet to commit, per topic partition (read from Kafka when scraped)',
    labelNames: ['group', 'topic', 'partition'] as const,
    registers: [registry],
    async collect() {
      const read = await offsets();
      this.reset();
      for (const row of read?.lag ?? [])
        this.set({ group: row.group, topic: row.topic, partition: String(row.partition) }, row.lag);
    },
  });
  new Gauge({
    name: 'kafka_dead_letter_messages',
    help: 'Messages held by a dead-letter topic that this service parks events on (read when scraped)',
    labelNames: ['topic'] as const,
    registers: [registry],
    async collect() {
      const read = await offsets();
      this.reset();
      for (const row of read?.sizes ?? []) this.set({ topic: row.topic }, row.messages);
    },
  });
}
