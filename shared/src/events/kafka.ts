import {
  Kafka,
  Partitioners,
  logLevel,
  type Admin,
  type Consumer,
  type IHeaders,
  type KafkaMessage,
  type LogEntry,
  type Message,
  type Producer,
} from 'kafkajs';
import type { Logger } from 'pino';
import { envelopeSchema, type EventEnvelope } from './envelope.ts';
import { eventDefinition } from './registry.ts';
import { dlqTopic } from './topics.ts';

export interface EventBusSettings {
  brokers: string[];
  clientId: string;
  /** Prepended to every topic and group id (test isolation, shared clusters). */
  topicPrefix?: string;
  logger: Logger;
}

export interface ConsumedEvent {
  event: EventEnvelope;
  topic: string;
  partition: number;
  offset: string;
}

/** Return 'skip' for events the consumer does not care about. */
export type EventHandler = (consumed: ConsumedEvent) => Promise<void | 'skip'>;

export interface ConsumerOptions {
  groupId: string;
  topics: string[];
  handle: EventHandler;
  /** Attempts before a failing event is parked on `<topic>.dlq` (so it never blocks its partition). */
  maxAttempts?: number;
  retryBaseDelayMs?: number;
  fromBeginning?: boolean;
  /**
   * Partitions handled at once (order stays per partition, so per aggregate). More than one, so a
   * handler waiting on an event of another topic (retrying) does not hold that event up.
   */
  partitionsConsumedConcurrently?: number;
}

export interface EventConsumer {
  /** Resolves once the consumer has joined its group and will receive new messages. */
  ready: Promise<void>;
  stop: () => Promise<void>;
}

const KAFKA_LOG_LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function headerText(headers: IHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}

/**
 * The only door to Kafka: services publish envelopes and consume them through this, never kafkajs
 * directly, so retries, DLQ, validation and naming live in one place.
 */
export class EventBus {
  readonly prefix: string;
  private readonly kafka: Kafka;
  private readonly logger: Logger;
  private admin: Admin | undefined;
  private producer: Producer | undefined;
  private readonly consumers = new Set<Consumer>();

  constructor(settings: EventBusSettings) {
    this.prefix = settings.topicPrefix ?? '';
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
  private async retryTransient<T>(what: string, work: () => Promise<T>, attempts = 20): Promise<T> {
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
  async ensureTopics(topics: string[], numPartitions = 3): Promise<void> {
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

  /** Readiness: the cluster answers a metadata request. */
  async ping(): Promise<void> {
    const admin = await this.connectedAdmin();
    await admin.describeCluster();
  }

  /**
   * Publishes envelopes (already validated at creation) with an idempotent producer: the broker
   * drops retried duplicates. Key = subject id, so one aggregate's events stay ordered.
   */
  async publish(events: Array<{ topic: string; event: EventEnvelope }>): Promise<void> {
    if (events.length === 0) return;
    const producer = await this.connectedProducer();
    const byTopic = new Map<string, Message[]>();
    for (const { topic, event } of events) {
      const messages = byTopic.get(topic) ?? [];
      messages.push({
        key: event.subjectId,
        value: JSON.stringify(event),
        headers: {
          'event-id': event.id,
          'event-type': event.type,
          ...(event.correlationId ? { 'correlation-id': event.correlationId } : {}),
        },
      });
      byTopic.set(topic, messages);
    }
    await producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic: this.topic(topic), messages })),
    });
  }

  private async connectedProducer(): Promise<Producer> {
    if (!this.producer) {
      const producer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await producer.connect();
      this.producer = producer;
    }
    return this.producer;
  }

  /**
   * Starts a consumer. Each event is validated (envelope, then its registered schema); unknown
   * types are skipped; malformed or invalid ones, and ones whose handler still fails after
   * `maxAttempts`, go to `<topic>.dlq` with the reason — the partition moves on either way.
   */
  async consume(options: ConsumerOptions): Promise<EventConsumer> {
    const { topics, handle, maxAttempts = 3, retryBaseDelayMs = 100 } = options;
    await this.ensureTopics(topics);
    const consumer = this.kafka.consumer({
      groupId: this.topic(options.groupId),
      maxWaitTimeInMs: 100,
      // A crashed replica's partitions move to the others after this long without heartbeats.
      sessionTimeout: 10_000,
      heartbeatInterval: 3_000,
    });
    this.consumers.add(consumer);
    let joined: () => void = () => {};
    const ready = new Promise<void>((resolve) => {
      joined = resolve;
    });
    consumer.on(consumer.events.GROUP_JOIN, () => joined());

    await consumer.connect();
    await this.retryTransient('subscribe', () =>
      consumer.subscribe({
        topics: topics.map((t) => this.topic(t)),
        fromBeginning: options.fromBeginning ?? true,
      }),
    );
    await consumer.run({
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 4,
      eachMessage: async ({ topic, partition, message, heartbeat }) => {
        const plainTopic = topic.slice(this.prefix.length);
        const parked = (reason: string, error?: unknown) =>
          this.deadLetter(plainTopic, partition, message, reason, error);

        let raw: unknown;
        try {
          raw = JSON.parse(message.value?.toString('utf8') ?? '');
        } catch (err) {
          return parked('malformed-json', err);
        }
        const envelope = envelopeSchema.safeParse(raw);
        if (!envelope.success) return parked('invalid-envelope', envelope.error);
        const definition = eventDefinition(envelope.data.type);
        if (!definition) return; // A type this build does not know: newer producer, skip.
        const data = definition.data.safeParse(envelope.data.data);
        if (!data.success) return parked('invalid-data', data.error);

        const consumed: ConsumedEvent = {
          event: { ...envelope.data, data: data.data as Record<string, unknown> },
          topic: plainTopic,
          partition,
          offset: message.offset,
        };
        for (let attempt = 1; ; attempt += 1) {
          try {
            await handle(consumed);
            return;
          } catch (err) {
            if (attempt >= maxAttempts) return parked('handler-failed', err);
            this.logger.warn({ err, eventId: consumed.event.id, attempt }, 'event handler failed; retrying');
            await sleep(retryBaseDelayMs * 2 ** (attempt - 1));
            await heartbeat();
          }
        }
      },
    });
    return {
      ready,
      stop: async () => {
        await consumer.disconnect();
        this.consumers.delete(consumer);
      },
    };
  }

  private async deadLetter(
    topic: string,
    partition: number,
    message: KafkaMessage,
    reason: string,
    error: unknown,
  ): Promise<void> {
    const detail = error instanceof Error ? error.message : String(error ?? '');
    this.logger.error(
      {
        topic,
        partition,
        offset: message.offset,
        reason,
        error: detail,
        eventId: headerText(message.headers, 'event-id'),
      },
      'event sent to the dead-letter topic',
    );
    const producer = await this.connectedProducer();
    await producer.send({
      topic: this.topic(dlqTopic(topic)),
      acks: -1,
      messages: [
        {
          key: message.key,
          value: message.value,
          headers: {
            ...message.headers,
            'dlq-reason': reason,
            'dlq-error': detail.slice(0, 2_000),
            'dlq-original-topic': topic,
            'dlq-original-partition': String(partition),
            'dlq-original-offset': message.offset,
          },
        },
      ],
    });
  }

  /** Stops consuming (first step of a graceful shutdown); the producer stays for the outbox flush. */
  async stopConsumers(): Promise<void> {
    await Promise.allSettled([...this.consumers].map((c) => c.disconnect()));
    this.consumers.clear();
  }

  async close(): Promise<void> {
    await this.stopConsumers();
    await this.producer?.disconnect();
    await this.admin?.disconnect();
    this.producer = undefined;
    this.admin = undefined;
  }
}

/** Dispatches by event type; types without a handler are skipped. One list per service. */
export function routeByType(handlers: Record<string, EventHandler>): EventHandler {
  return async (consumed) => {
    const handler = handlers[consumed.event.type];
    return handler ? handler(consumed) : 'skip';
  };
}
