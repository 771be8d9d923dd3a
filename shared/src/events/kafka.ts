import { setTimeout as sleep } from 'node:timers/promises';
import {
  Kafka,
  PartitionAssigners,
  Partitioners,
  logLevel,
  type Admin,
  type Consumer,
  type ConsumerRunConfig,
  type IHeaders,
  type KafkaMessage,
  type LogEntry,
  type Message,
  type PartitionAssigner,
  type Producer,
} from 'kafkajs';
import type { Logger } from 'pino';
import { runWithRequestContext } from '../http/request-context.ts';
import { envelopeSchema, type EventEnvelope } from './envelope.ts';
// Side effect: stops kafkajs's idle 1 ms timer loop in every connection (see the file).
import './kafkajs-request-queue.ts';
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
  /**
   * Lets the broker hold a fetch up to this long to gather a batch (by default it answers as soon
   * as one message is there). For consumers nobody waits on: under load that is one fetch and one
   * offset commit per batch instead of per message or two. Others may see the same events sooner.
   */
  batchWaitMs?: number;
  /**
   * Handle the events of a fetched batch all at once instead of one after the other (offsets still
   * advance only past finished events). Only for handlers that keep order themselves where it
   * matters: the realtime hub queues appends per channel in the order they are made.
   */
  pipelined?: boolean;
  /**
   * Handle the events of a fetched batch in up to this many lanes at once, one lane per message
   * key (the subject: one aggregate's events stay in order), instead of one after the other. For
   * handlers that wait on their store more than they compute: a partition's events then share the
   * round trips' wait. A batch goes in slices of `LANE_SLICE` events; offsets advance past a slice
   * once all of it is done.
   */
  keyConcurrency?: number;
  /** Messages to pass over unread, by their event id (header): a replica's own echoes, say. */
  ignore?: (eventId: string) => boolean;
  /**
   * False for a group whose offsets are never read again (one per process, always starting from the
   * latest): it then never commits (others commit their handled offsets once a second).
   */
  commitOffsets?: boolean;
  /**
   * Awaited before each offset commit; the offsets handled up to then are committed only once it
   * resolves (a rejection keeps them for the next commit). For handlers that finish part of their
   * work after returning: the realtime hub publishes to its internal topic in the background.
   */
  beforeCommit?: () => Promise<void>;
  /**
   * Told whenever the consumer's membership changes: once it has joined a generation of its group
   * (`alone` when it is the group's only member), and once that no longer holds (a rebalance has
   * begun; the consumer crashed or stopped). It handles no events between the two. Only the group's
   * leader learns the members, so a member that is not the leader is never alone. For the realtime
   * hub: while it is the only replica, nobody else needs its fan-out.
   */
  onMembership?: (membership: GroupMembership) => void;
}

export interface GroupMembership {
  /** In a generation of the group: false while it rebalances, and after a crash or a stop. */
  joined: boolean;
  /** The group's only member (then `joined` too). */
  alone: boolean;
}

type Heartbeat = () => Promise<void>;

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

/** How long a fetch may wait for messages (architecture.md §3: ≈ 100 ms; kafkajs' 5 s adds seconds of lag). */
const FETCH_WAIT_MS = 100;
/** What a batching fetch gathers before answering early (about a second's worth at 100 events/s). */
const BATCH_MIN_BYTES = 128 * 1024;

/** How often consumers commit the offsets they have handled (see `OffsetCommitter`). */
const COMMIT_INTERVAL_MS = 1_000;

/** A cap on one coalesced produce request (the broker refuses requests over its size limit). */
const MAX_EVENTS_PER_REQUEST = 500;

type OutgoingEvent = { topic: string; event: EventEnvelope };

interface PendingPublish {
  events: OutgoingEvent[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

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
  private readonly outgoing: PendingPublish[] = [];
  private sending: Promise<void> | undefined;
  private pinging: Promise<void> | undefined;
  /** Running consumers and how to stop each (its last offsets committed first). */
  private readonly consumers = new Map<Consumer, () => Promise<void>>();

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

  /**
   * Publishes envelopes (already validated at creation) with an idempotent producer: the broker
   * drops retried duplicates. Key = subject id, so one aggregate's events stay ordered.
   * The producer has one request in flight at a time; publishes asked for meanwhile go out
   * together in the next request, in the order they were asked for (fewer round trips under load).
   */
  publish(events: OutgoingEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.outgoing.push({ events, resolve, reject });
      this.sending ??= this.sendOutgoing();
    });
  }

  /** Sends what is waiting, a request at a time, until nothing is; each caller learns its request's fate. */
  private async sendOutgoing(): Promise<void> {
    while (this.outgoing.length > 0) {
      const batch = this.takeOutgoing();
      try {
        await this.send(batch.flatMap((p) => p.events));
        for (const p of batch) p.resolve();
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    // In the same tick as the last check: a publish arriving after it starts a new loop.
    this.sending = undefined;
  }

  /** The oldest waiting publishes, up to MAX_EVENTS_PER_REQUEST events (always at least one). */
  private takeOutgoing(): PendingPublish[] {
    let count = 0;
    let take = 0;
    for (const pending of this.outgoing) {
      if (take > 0 && count + pending.events.length > MAX_EVENTS_PER_REQUEST) break;
      count += pending.events.length;
      take += 1;
    }
    return this.outgoing.splice(0, take);
  }

  private async send(events: OutgoingEvent[]): Promise<void> {
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
      if (!this.consumers.delete(consumer)) return;
      await committer?.stop();
      await consumer.disconnect();
    };
    this.consumers.set(consumer, stop);
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
    const { handle, maxAttempts = 3, retryBaseDelayMs = 100 } = options;
    const eventId = headerText(message.headers, 'event-id');
    if (eventId !== undefined && options.ignore?.(eventId)) return;
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
    // The handler runs in the context of the request the event came from: its log lines and the
    // events it writes carry that request's id (an event of no request continues under its own id).
    const context = { requestId: consumed.event.correlationId ?? consumed.event.id };
    for (let attempt = 1; ; attempt += 1) {
      try {
        await runWithRequestContext(context, () => handle(consumed));
        return;
      } catch (err) {
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

  async close(): Promise<void> {
    await this.stopConsumers();
    await this.sending;
    await this.producer?.disconnect();
    await this.admin?.disconnect();
    this.producer = undefined;
    this.admin = undefined;
  }
}

/**
 * Commits a consumer's handled offsets once per interval, not after every fetched batch (kafkajs'
 * default): at 100 events/s that was a broker write per event in each group that reads them.
 * Handlers are idempotent (inbox, upserts, unique ids), so what a crash replays — at most one
 * interval's worth — changes nothing. Stopping and rebalancing commit first.
 */
class OffsetCommitter {
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

type MessageHandler = (
  topic: string,
  partition: number,
  message: KafkaMessage,
  heartbeat: Heartbeat,
) => Promise<void>;

/**
 * How `consume` runs a consumer's handler: one event after the other (the default), a fetched
 * batch's events all at once (`pipelined`), or a batch in lanes per message key (`keyConcurrency`).
 */
function runHandlers(
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

/** Dispatches by event type; types without a handler are skipped. One list per service. */
export function routeByType(handlers: Record<string, EventHandler>): EventHandler {
  return async (consumed) => {
    const handler = handlers[consumed.event.type];
    return handler ? handler(consumed) : 'skip';
  };
}
