// The outbox backlog as metrics: how many events wait to be published and how old the oldest is,
// read when scraped (one query, reused for a few seconds), for the PostgreSQL and MongoDB outboxes.
import { Gauge, type Registry } from 'prom-client';
import type { Connection } from 'mongoose';
import { QueryTypes, type Sequelize } from 'sequelize';
import { scrapeCache } from './scrape-cache.ts';

export interface OutboxBacklog {
  unsent: number;
  /** Seconds since the oldest unsent event was written; 0 when none waits. */
  oldestAgeSeconds: number;
}

export interface OutboxMetricsOptions {
  /** The backlog is read at most this often (default 5 s). */
  cacheMs?: number;
  /** A read slower than this leaves the backlog out of the scrape (default 2 s). */
  timeoutMs?: number;
}

/**
 * The PostgreSQL outbox (pg-outbox.ts): both numbers in one statement over the partial index of
 * unsent rows (`outbox_unpublished`): a count of its entries and the first one by `seq`.
 */
export function pgOutboxBacklog(sequelize: Sequelize): () => Promise<OutboxBacklog> {
  return async () => {
    const [row] = await sequelize.query<{ unsent: string; age: string | null }>(
      `SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL) AS unsent,
              (SELECT extract(epoch FROM now() - created_at) FROM outbox
                WHERE published_at IS NULL ORDER BY seq LIMIT 1) AS age`,
      { type: QueryTypes.SELECT },
    );
    return { unsent: Number(row?.unsent ?? 0), oldestAgeSeconds: Math.max(0, Number(row?.age ?? 0)) };
  };
}

/**
 * The MongoDB outbox (mongo-outbox.ts): its entries leave the collection once published, so every
 * entry is unsent (staged or confirmed). The collection stays small; it grows only while Kafka is
 * unreachable.
 */
export function mongoOutboxBacklog(connection: Connection): () => Promise<OutboxBacklog> {
  return async () => {
    const entries = connection.collection<{ stagedAt: Date }>('outbox');
    const [unsent, oldest] = await Promise.all([
      entries.countDocuments({}),
      entries
        .find({}, { projection: { stagedAt: 1 } })
        .sort({ stagedAt: 1 })
        .limit(1)
        .next(),
    ]);
    const age = oldest?.stagedAt ? (Date.now() - oldest.stagedAt.getTime()) / 1_000 : 0;
    return { unsent, oldestAgeSeconds: Math.max(0, age) };
  };
}

/**
 * `outbox_unsent_events` and `outbox_oldest_unsent_age_seconds`, read by `backlog` when scraped. A
 * store that does not answer in time makes both NaN in that scrape (`dependency_up` says why).
 */
export function observeOutbox(
  registry: Registry,
  backlog: () => Promise<OutboxBacklog>,
  options: OutboxMetricsOptions = {},
): void {
  if (registry.getSingleMetric('outbox_unsent_events')) return;
  const read = scrapeCache(backlog, {
    ttlMs: options.cacheMs ?? 5_000,
    timeoutMs: options.timeoutMs ?? 2_000,
  });
  const gauge = (name: string, help: string, pick: (backlog: OutboxBacklog) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const value = await read();
        this.set(value ? pick(value) : NaN);
      },
    });
  gauge(
    'outbox_unsent_events',
    'Events written to the outbox and not yet published to Kafka',
    (b) => b.unsent,
  );
  gauge(
    'outbox_oldest_unsent_age_seconds',
    'Age of the oldest event the outbox has not yet published (0 when none waits)',
    (b) => b.oldestAgeSeconds,
  );
}
