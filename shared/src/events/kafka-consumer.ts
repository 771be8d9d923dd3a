// The event bus's consuming side: consumers that validate, retry and dead-letter each event.
import { setTimeout as sleep } from 'node:timers/promises';
import { PartitionAssigners, type Consumer, type KafkaMessage, type PartitionAssigner } from 'kafkajs';
import { runWithRequestContext } from '../http/request-context.ts';
import { consumeInSpan } from '../observability/tracing.ts';
import { envelopeSchema } from './envelope.ts';
import { headerText } from './kafka-headers.ts';
import { OffsetCommitter, runHandlers, type MessageHandler } from './kafka-consumer-run.ts';
import { EventBusProducer } from './kafka-producer.ts';
import type {
  CommittingGroup,
  ConsumedEvent,
  ConsumerObserver,
  ConsumerOptions,
  EventConsumer,
  EventHandler,
  GroupMembership,
  Heartbeat,
} from './kafka-types.ts';
import { eventDefinition } from './registry.ts';
import { dlqTopic } from './topics.ts';

/** How long a fetch may wait for messages (architecture.md §3: ≈ 100 ms; kafkajs' 5 s adds seconds of lag). */
const FETCH_WAIT_MS = 100;
/** What a batching fetch gathers before answering early (about a second's worth at 100 events/s). */
const BATCH_MIN_BYTES = 128 * 1024;

/** How often consumers commit the offsets they have handled (see `OffsetCommitter`). */
const COMMIT_INTERVAL_MS = 1_000;

/** Consuming, on top of the producer (for the dead-letter topics); `EventBus` (kafka.ts) extends it. */
export class EventBusConsumers extends EventBusProducer {
  /** Running consumers and how to stop each (its last offsets committed first). */
  private readonly consumers = new Map<Consumer, () => Promise<void>>();
  /** The groups of the running consumers that commit offsets (their lag means something). */
  private readonly committing = new Map<Consumer, CommittingGroup>();
  /** Told about every handled and parked event (metrics); none until `observe` is called. */
  private observer: ConsumerObserver | undefined;

  /** Reports what the consumers do with each event to `observer` (one per bus). */
  observe(observer: ConsumerObserver): void {
    this.observer = observer;
  }

  /** The groups this process consumes in and commits for, without the topic prefix. */
  committingGroups(): CommittingGroup[] {
    return [...this.committing.values()];
  }

  /**
   * Starts a consumer. Each event is validated (envelope, then its registered schema); unknown
   * types are skipped; malformed or invalid ones, and ones whose handler still fails after
   * `maxAttempts`, go to `<topic>.dlq` with the reason — the partition moves on either way.
   */
  async consume(options: ConsumerOptions): Promise<EventConsumer> {
    const { topics } = options;
    await this.ensureTopics(topics);
    const membership = options.onMembership ? watchMembership(options.onMembership) : undefined;
    const consumer = this.kafka.consumer({
      groupId: this.topic(options.groupId),
      maxWaitTimeInMs: options.batchWaitMs ?? FETCH_WAIT_MS,
      minBytes: options.batchWaitMs ? BATCH_MIN_BYTES : 1,
      // A crashed replica's partitions move to the others after this long without heartbeats.
      sessionTimeout: 10_000,
      heartbeatInterval: 3_000,
      ...(membership ? { partitionAssigners: [membership.assigner] } : {}),
    });
    let joined: () => void = () => {};
    const ready = new Promise<void>((resolve) => {
      joined = resolve;
    });
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      membership?.joined(payload.isLeader);
      joined();
    });
    if (membership) {
      for (const left of [consumer.events.REBALANCING, consumer.events.CRASH, consumer.events.STOP])
        consumer.on(left, () => membership.left());
    }

    await consumer.connect();
    await this.retryTransient('subscribe', () =>
      consumer.subscribe({
        topics: topics.map((t) => this.topic(t)),
        fromBeginning: options.fromBeginning ?? true,
      }),
    );
    const handleMessage: MessageHandler = (topic, partition, message, heartbeat) =>
      this.handleMessage(options, topic, partition, message, heartbeat);
    const committer =
      options.commitOffsets === false
        ? undefined
        : new OffsetCommitter(consumer, this.logger, COMMIT_INTERVAL_MS, options.beforeCommit);
    consumer.on(consumer.events.REBALANCING, () => void committer?.commit());
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 4,
      ...runHandlers(options, handleMessage, committer),
    });
    committer?.start();
    const stop = async () => {
      this.committing.delete(consumer);
      if (!this.consumers.delete(consumer)) return;
      await committer?.stop();
      await consumer.disconnect();
    };
    this.consumers.set(consumer, stop);
    if (committer) this.committing.set(consumer, { groupId: options.groupId, topics: [...topics] });
    return { ready, stop };
  }

  /**
   * One message: validated (envelope, then its registered schema; unknown types skipped), handled
   * with retries, parked on `<topic>.dlq` when malformed, invalid or still failing.
   */
  private async handleMessage(
    options: ConsumerOptions,
    topic: string,
    partition: number,
    message: KafkaMessage,
    heartbeat: Heartbeat,
  ): Promise<void> {
    const eventId = headerText(message.headers, 'event-id');
    if (eventId !== undefined && options.ignore?.(eventId)) return;
    const plainTopic = topic.slice(this.prefix.length);
    const label = options.label ?? options.groupId;
    const parked = (reason: string, error?: unknown) => {
      this.observer?.deadLettered(label, plainTopic, reason);
      return this.deadLetter(plainTopic, partition, message, reason, error);
    };

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
    // The handler runs in the context of the request the event came from: its log lines and the
    // events it writes carry that request's id (an event of no request continues under its own id).
    const context = { requestId: consumed.event.correlationId ?? consumed.event.id };
    const traced = {
      topic: plainTopic,
      group: options.groupId,
      eventId: consumed.event.id,
      eventType: consumed.event.type,
      headers: message.headers,
    };
    return consumeInSpan(traced, () => this.handleWithRetries(options, consumed, context, heartbeat, parked));
  }

  /** The handler, retried with backoff up to `maxAttempts`, then the event is parked. */
  private async handleWithRetries(
    options: ConsumerOptions,
    consumed: ConsumedEvent,
    context: { requestId: string },
    heartbeat: Heartbeat,
    parked: (reason: string, error?: unknown) => Promise<void>,
  ): Promise<void> {
    const { handle, maxAttempts = 3, retryBaseDelayMs = 100 } = options;
    const label = options.label ?? options.groupId;
    const { observer } = this;
    for (let attempt = 1; ; attempt += 1) {
      const began = observer ? performance.now() : 0;
      try {
        const result = await runWithRequestContext(context, () => handle(consumed));
        if (observer && result !== 'skip')
          observer.handled(label, consumed.event.type, (performance.now() - began) / 1_000, false);
        return;
      } catch (err) {
        observer?.handled(label, consumed.event.type, (performance.now() - began) / 1_000, true);
        if (attempt >= maxAttempts) return parked('handler-failed', err);
        this.logger.warn({ err, eventId: consumed.event.id, attempt }, 'event handler failed; retrying');
        await sleep(retryBaseDelayMs * 2 ** (attempt - 1));
        await heartbeat();
      }
    }
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
    await Promise.allSettled([...this.consumers.values()].map((stop) => stop()));
  }
}

/**
 * Follows a consumer's membership for `onMembership`. The group's leader assigns the partitions to
 * every member, so the assigner (kafkajs' round robin under its own name, so replicas of other
 * versions still agree on it) counts them; kafkajs reports the join after the assignment.
 */
function watchMembership(report: (membership: GroupMembership) => void) {
  let members: number | undefined;
  const assigner: PartitionAssigner = (config) => {
    const roundRobin = PartitionAssigners.roundRobin(config);
    return {
      name: roundRobin.name,
      version: roundRobin.version,
      protocol: (subscription) => roundRobin.protocol(subscription),
      assign: (group) => {
        members = group.members.length;
        return roundRobin.assign(group);
      },
    };
  };
  return {
    assigner,
    joined: (isLeader: boolean) => {
      const alone = isLeader && members === 1;
      members = undefined;
      report({ joined: true, alone });
    },
    left: () => report({ joined: false, alone: false }),
  };
}

/** Dispatches by event type; types without a handler are skipped. One list per service. */
export function routeByType(handlers: Record<string, EventHandler>): EventHandler {
  return async (consumed) => {
    const handler = handlers[consumed.event.type];
    return handler ? handler(consumed) : 'skip';
  };
}
