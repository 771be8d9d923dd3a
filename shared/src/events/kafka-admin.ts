// The event bus's Kafka client and admin side: topic naming, topic creation, readiness.
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type Admin, type LogEntry } from 'kafkajs';
import type { Logger } from 'pino';
// Side effect: stops kafkajs's idle 1 ms timer loop in every connection (see the file).
import './kafkajs-request-queue.ts';
import type { CommittingGroup, EventBusSettings } from './kafka-types.ts';
import { DEFAULT_TOPIC_PARTITIONS, dlqTopic } from './topics.ts';

const KAFKA_LOG_LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** The client `EventBus` is built on (kafka.ts): its producer and consumers extend it. */
export class EventBusAdmin {
  readonly prefix: string;
  /** Partitions of the topics this bus creates. */
  readonly partitions: number;
  protected readonly kafka: Kafka;
  protected readonly logger: Logger;
  protected admin: Admin | undefined;
  private pinging: Promise<void> | undefined;

  constructor(settings: EventBusSettings) {
    this.prefix = settings.topicPrefix ?? '';
    this.partitions = settings.partitions ?? DEFAULT_TOPIC_PARTITIONS;
    this.logger = settings.logger.child({ component: 'kafka' });
    const kafkaLogger = this.logger;
    this.kafka = new Kafka({
      clientId: settings.clientId,
      brokers: settings.brokers,
      logLevel: logLevel.WARN,
      retry: { retries: 5, initialRetryTime: 100 },
      logCreator:
        () =>
        ({ level, log }: LogEntry) => {
          const { message, ...extra } = log;
          kafkaLogger[KAFKA_LOG_LEVELS[level] ?? 'info'](extra, message);
        },
    });
  }

  topic(name: string): string {
    return `${this.prefix}${name}`;
  }

  private async connectedAdmin(): Promise<Admin> {
    if (!this.admin) {
      const admin = this.kafka.admin();
      await admin.connect();
      this.admin = admin;
    }
    return this.admin;
  }

  /**
   * A broker that has just started answers "unknown topic or partition" and the like while new
   * partitions get their leaders. Errors kafkajs marks retriable are retried a bounded number of
   * times here, so a service starting next to a fresh broker waits instead of dying.
   */
  protected async retryTransient<T>(what: string, work: () => Promise<T>, attempts = 20): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await work();
      } catch (err) {
        if ((err as { retriable?: boolean }).retriable !== true || attempt >= attempts) throw err;
        this.logger.warn({ what, attempt, error: (err as Error).message }, 'Kafka not ready yet; retrying');
        await sleep(250);
      }
    }
  }

  /** Creates the topics (and their DLQs) if missing, so consumers never race topic auto-creation. */
  async ensureTopics(topics: string[], numPartitions = this.partitions): Promise<void> {
    const admin = await this.connectedAdmin();
    const wanted = [...new Set(topics.flatMap((t) => [this.topic(t), this.topic(dlqTopic(t))]))];
    await this.retryTransient('create topics', async () => {
      const existing = new Set(await admin.listTopics());
      const missing = wanted.filter((t) => !existing.has(t));
      if (missing.length === 0) return;
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => ({ topic, numPartitions, replicationFactor: -1 })),
      });
    });
  }

  /**
   * How far each group is behind, per topic partition: the log's end minus the group's committed
   * offset (the log's start when it has none), and how many messages each topic holds (end minus
   * start; for the dead-letter topics). One offsets request per group and one per topic; names
   * without the prefix.
   */
  async offsets(groups: CommittingGroup[], sized: string[] = []): Promise<TopicOffsets> {
    const admin = await this.connectedAdmin();
    const topics = [...new Set([...groups.flatMap((group) => group.topics), ...sized])];
    const ends = new Map(
      await Promise.all(
        topics.map(async (topic) => [topic, await admin.fetchTopicOffsets(this.topic(topic))] as const),
      ),
    );
    const lag: TopicOffsets['lag'] = [];
    for (const group of groups) {
      const committed = await admin.fetchOffsets({
        groupId: this.topic(group.groupId),
        topics: group.topics.map((topic) => this.topic(topic)),
      });
      for (const { topic, partitions } of committed) {
        const plain = topic.slice(this.prefix.length);
        const byPartition = new Map(ends.get(plain)?.map((end) => [end.partition, end]));
        for (const { partition, offset } of partitions) {
          const end = byPartition.get(partition);
          if (!end) continue;
          const from = Number(offset) >= 0 ? Number(offset) : Number(end.low);
          lag.push({
            group: group.groupId,
            topic: plain,
            partition,
            lag: Math.max(0, Number(end.high) - from),
          });
        }
      }
    }
    const sizes = sized.map((topic) => ({
      topic,
      messages: (ends.get(topic) ?? []).reduce((sum, end) => sum + Number(end.high) - Number(end.low), 0),
    }));
    return { lag, sizes };
  }

  /**
   * Readiness: the cluster answers a metadata request. Probes asked for while one is in flight share
   * it: against a dead broker kafkajs retries for seconds, and readiness probes must not pile up.
   */
  ping(): Promise<void> {
    this.pinging ??= this.connectedAdmin()
      .then((admin) => admin.describeCluster())
      .then(() => undefined)
      .finally(() => {
        this.pinging = undefined;
      });
    return this.pinging;
  }
}

export interface TopicOffsets {
  lag: Array<{ group: string; topic: string; partition: number; lag: number }>;
  sizes: Array<{ topic: string; messages: number }>;
}
