// Settings and consumer types of the Kafka event bus, shared by its modules (types only).
import type { Logger } from 'pino';
import type { EventEnvelope } from './envelope.ts';

export interface EventBusSettings {
  brokers: string[];
  clientId: string;
  /** Prepended to every topic and group id (test isolation, shared clusters). */
  topicPrefix?: string;
  /** Partitions of the topics this bus creates (default DEFAULT_TOPIC_PARTITIONS, 12). */
  partitions?: number;
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
  /**
   * The consumer's name in metrics (default: `groupId`). A group of one process (its id names the
   * process) gives a stable one, so a restart does not start new series.
   */
  label?: string;
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

export type Heartbeat = () => Promise<void>;

export interface EventConsumer {
  /** Resolves once the consumer has joined its group and will receive new messages. */
  ready: Promise<void>;
  stop: () => Promise<void>;
}

/**
 * Told what a consumer does with each event, for metrics (`shared/src/observability`); the bus
 * works without one. Calls are synchronous and cheap: they run once per event.
 */
export interface ConsumerObserver {
  /** One run of a handler on an event it did not skip: how long it took and whether it threw. */
  handled(consumer: string, eventType: string, seconds: number, failed: boolean): void;
  /** A message parked on `<topic>.dlq`; `reason` as in its `dlq-reason` header. */
  deadLettered(consumer: string, topic: string, reason: string): void;
}

/** A group whose offsets are committed, for its lag: its id and topics, both without the prefix. */
export interface CommittingGroup {
  groupId: string;
  topics: string[];
}
