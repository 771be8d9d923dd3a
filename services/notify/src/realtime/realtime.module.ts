// The real-time hub wired (api.md §9): its channels, history, fan-out consumers and the WebSocket upgrade.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { hostname } from 'node:os';
import type { Duplex } from 'node:stream';
import {
  consumerOf,
  createEvent,
  identityEvents,
  realtimeEvents,
  routeByType,
  type ConsumerOptions,
  type EventBus,
  type EventConsumer,
  type EventEnvelope,
  type GroupMembership,
  type KeyResolver,
  type Logger,
  type RevocationCheck,
} from '@trellis/shared';
import type { Connection } from 'mongoose';
import type { Registry } from 'prom-client';
import { WebSocketServer } from 'ws';
import { ANNOUNCING_EVENTS, ProjectAnnouncements } from './announcements.ts';
import { BackgroundPublisher } from './background-publisher.ts';
import {
  CHANNEL_ROUTES,
  channelDeliveries,
  parseChannel,
  type ChannelDelivery,
  type RealtimeEvent,
} from './channels.ts';
import { ChannelHistory } from './history.ts';
import { historyModels } from './history.model.ts';
import { Hub, type ChannelAccess } from './hub.ts';
import { CLOSE, DEFAULT_MAX_SUBSCRIPTIONS, MAX_MESSAGE_BYTES } from './protocol.ts';
import { realtimeMetrics } from './realtime.metrics.ts';
import { upgradeHandler } from './upgrade.ts';

export type { AccessVerdict, ChannelAccess } from './hub.ts';
export type { RealtimeEvent } from './channels.ts';
export { channelDeliveries, userChannel } from './channels.ts';

export interface RealtimeDeps {
  connection: Connection;
  bus: EventBus;
  logger: Logger;
  access: ChannelAccess;
  /** Verifies access tokens on upgrade (identity's JWKS: `remoteJwks`). */
  resolveKey: KeyResolver;
  /** Refuses revoked tokens on upgrade (the runtime's `RevocationList`). */
  isRevoked: RevocationCheck;
  /** Names this replica's consumer group on the internal topic; unique per process by default. */
  instanceId?: string;
  /** History kept per channel: at least the newest `historyLimit` … (default 1 000) */
  historyLimit?: number;
  /** … and everything younger than this (default 24 h). */
  historyMaxAgeMs?: number;
  /** How often the retention job runs (default 5 min). */
  retentionIntervalMs?: number;
  /** Ping interval; a socket that has not answered the previous ping is dropped (default 30 s). */
  heartbeatMs?: number;
  /** Subscriptions per socket, its inbox included (default 200). */
  maxSubscriptions?: number;
  /** Where to register the hub's metrics (the app's registry); none when absent. */
  registry?: Registry;
}

export interface Realtime {
  readonly instanceId: string;
  /** For `serve({ onUpgrade })`: `/ws`, `/ws/projects/{id}`, `/ws/notifications`. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /**
   * Assigns the event its seq on the channel (once: a repeat returns the same seq) and fans it out.
   * `placed` runs between the two: what a client hearing of the event reads is written by then.
   */
  append(
    channel: string,
    event: RealtimeEvent,
    options?: { placed?: (seq: number) => Promise<void> },
  ): Promise<number>;
  /** The channel's newest seq (0: none yet). */
  lastSeq(channel: string): Promise<number>;
  /** Someone's access may have shrunk: every replica re-checks those users' subscriptions. */
  accessChanged(orgId: string | null, userIds: string[]): Promise<void>;
  /**
   * Starts this replica's consumers — the internal topic's, then the public topics' (group
   * `notify-realtime`, which feeds the channels) — the heartbeat and the retention job.
   */
  start(): Promise<void>;
  /** Where the public topics' consumer stands in its group (alone: no other replica has sockets). */
  membership(): GroupMembership;
  /** Closes every socket (1012 Service Restart), stops the consumers and the timers. */
  stop(): Promise<void>;
  /** One run of the retention job; returns how many entries were deleted. */
  pruneHistory(now?: Date): Promise<number>;
}

const INTERNAL_TOPIC = realtimeEvents.realtimePublished.topic;
/** The public events the hub reads: those routed to channels, and those that announce projects. */
export const sourceEvents = [
  ...new Map(
    [...CHANNEL_ROUTES.map(({ definition }) => definition), ...ANNOUNCING_EVENTS].map((d) => [d.type, d]),
  ).values(),
];
export const SOURCE_GROUP = 'notify-realtime';
const WARM_UP_TIMEOUT_MS = 30_000;
const HISTORY_TRUST_MS = 60_000;
/** Own publishes remembered until they come back from the internal topic (a bound, should they not). */
const MAX_ECHOES = 10_000;
/** How often a replica outside the source group (starting, rebalancing) reads its channels' ends. */
const RESYNC_INTERVAL_MS = 1_000;

/**
 * The real-time hub (api.md §9, architecture.md §3): assigns per-channel seqs in MongoDB, fans out
 * through the internal topic that every replica reads with a group of its own, and serves the
 * WebSocket endpoint.
 */
export async function createRealtime(deps: RealtimeDeps): Promise<Realtime> {
  const {
    bus,
    historyLimit = 1_000,
    historyMaxAgeMs = 24 * 60 * 60_000,
    retentionIntervalMs = 5 * 60_000,
    heartbeatMs = 30_000,
  } = deps;
  const instanceId = deps.instanceId ?? `${hostname()}-${randomUUID().slice(0, 8)}`;
  const logger = deps.logger.child({ component: 'realtime', instanceId });
  const history = new ChannelHistory(await historyModels(deps.connection), {
    // Well below the retention age: a seq remembered longer could have been pruned meanwhile.
    trustMs: Math.min(HISTORY_TRUST_MS, historyMaxAgeMs / 2),
  });
  const announcements = await ProjectAnnouncements.create(deps.connection);
  // Created up front, so the first append never races Kafka's topic auto-creation.
  await bus.ensureTopics([INTERNAL_TOPIC]);

  const metrics = realtimeMetrics(deps.registry);
  const hub = new Hub({
    history,
    access: deps.access,
    logger,
    maxSubscriptions: deps.maxSubscriptions ?? DEFAULT_MAX_SUBSCRIPTIONS,
    onEventDelivered: metrics.delivered,
  });
  metrics.countSockets(() => hub.socketCount);

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  let accepting = true;
  let consumer: EventConsumer | undefined;
  let source: EventConsumer | undefined;
  const timers: NodeJS.Timeout[] = [];
  // Ids of warm-up probes this replica published and is waiting to read back.
  const probes = new Map<string, () => void>();

  /** Ids of the `realtime.published` this replica delivered itself. */
  const echoes = new Set<string>();
  const publish = (events: EventEnvelope[]) =>
    bus.publish(events.map((event) => ({ topic: INTERNAL_TOPIC, event })));
  // The source consumer's fan-out: its offsets wait for these publishes (`beforeCommit`).
  const fanOut = new BackgroundPublisher(publish, logger);

  /**
   * This replica's place in the source group. Every replica with sockets is a member (`start` joins
   * it), so while this one is the group's only member, no other replica has sockets to feed: its
   * events skip the internal topic (decided after their seqs are taken, see `forOthers`). A replica
   * outside a generation (starting, rebalancing) may miss events that a then-alone replica kept to
   * itself: it reads its channels' ends from the history meanwhile, and once more when it joins.
   */
  let membership: GroupMembership = { joined: false, alone: false };
  let resyncing: Promise<void> | undefined;
  const resync = () => {
    resyncing ??= hub.resync().finally(() => {
      resyncing = undefined;
    });
    return resyncing;
  };
  const onMembership = (next: GroupMembership) => {
    const joinedNow = next.joined && !membership.joined;
    membership = next;
    if (!joinedNow) return;
    // After the one that may be running: it may have read the ends before the join.
    void (resyncing ?? Promise.resolve()).then(resync);
  };

  /**
   * Gives the event its seq on the channel and hands it to this replica's sockets at once (the
   * other replicas get it from the internal topic); returns the `realtime.published` for them.
   */
  const sequence = async (
    channel: string,
    event: RealtimeEvent,
    { opens = false, placed }: { opens?: boolean; placed?: (seq: number) => Promise<void> } = {},
  ) => {
    if (!parseChannel(channel)) throw new Error(`Malformed realtime channel "${channel}"`);
    // Validated before it takes a seq: an event that cannot be published must not sit in the history.
    const seq = await history.append(channel, realtimeEvents.realtimeEvent.parse(event), { opens });
    await placed?.(seq);
    hub.deliver(channel, seq, event);
    const published = createEvent(realtimeEvents.realtimePublished, 'notify', {
      subjectId: channel,
      data: { channel, seq, event },
    });
    return { seq, published };
  };

  /**
   * What of `published` the other replicas need: nothing while this replica is the source group's
   * only member. Asked once the seqs are taken: a replica that joins later reads them from the
   * history (its resync), and this one learns of the rebalance before it handles another event.
   */
  const forOthers = (published: EventEnvelope[]): EventEnvelope[] => {
    if (membership.alone) return [];
    for (const { id } of published) {
      // Delivered here already: when it comes back from the topic, it is passed over unread.
      echoes.add(id);
      if (echoes.size > MAX_ECHOES) echoes.delete(echoes.values().next().value as string);
    }
    return published;
  };

  const append: Realtime['append'] = async (channel, event, options = {}) => {
    const { seq, published } = await sequence(channel, event, options);
    await publish(forOthers([published]));
    return seq;
  };

  /**
   * Sequences a source event on all its channels at once and hands their `realtime.published` to the
   * background fan-out, in one request. Published also when a seq already existed: a redelivered
   * event may have died between insert and publish. Sockets drop seqs they already have, so
   * publishing twice is harmless.
   */
  const appendAll = async (deliveries: ChannelDelivery[]): Promise<void> => {
    const sequenced = await Promise.all(
      deliveries.map(({ channel, event, opens }) => sequence(channel, event, opens ? { opens } : {})),
    );
    const others = forOthers(sequenced.map(({ published }) => published));
    if (others.length > 0) fanOut.send(others);
  };

  const accessChanged = (orgId: string | null, userIds: string[]) =>
    publish([
      createEvent(realtimeEvents.realtimeAccessChanged, 'notify', {
        subjectId: orgId ?? userIds[0] ?? 'nobody',
        orgId,
        data: { orgId, userIds },
      }),
    ]);

  const internalConsumer: ConsumerOptions = {
    groupId: `notify-hub-${instanceId}`,
    label: 'notify-hub',
    // Revocations too: every replica closes its own sockets opened with a revoked token.
    topics: [INTERNAL_TOPIC, identityEvents.sessionRevoked.topic],
    // A fresh replica has no sockets that could want older events; they come from the history.
    fromBeginning: false,
    // A group of its own per process: nothing ever resumes from its offsets.
    commitOffsets: false,
    ignore: (eventId) => echoes.delete(eventId),
    handle: routeByType({
      [realtimeEvents.realtimePublished.type]: async ({ event }) => {
        const {
          channel,
          seq,
          event: payload,
        } = event.data as { channel: string; seq: number; event: RealtimeEvent };
        hub.deliver(channel, seq, payload);
      },
      [identityEvents.sessionRevoked.type]: async ({ event }) => {
        const { jti } = event.data as { jti: string | null };
        if (jti) hub.revoke(jti);
      },
      [realtimeEvents.realtimeAccessChanged.type]: async ({ event }) => {
        probes.get(event.id)?.();
        const { orgId, userIds } = event.data as { orgId: string | null; userIds: string[] };
        // Not awaited: slow access checks must not hold up deliveries on this partition.
        void hub.recheckAccess(orgId, userIds);
      },
    }),
  };

  const sourceConsumer: ConsumerOptions = {
    pipelined: true,
    ...consumerOf(
      SOURCE_GROUP,
      sourceEvents.map(({ type, topic }) => ({
        type,
        topic,
        // Pipelined: each event's appends are queued before its handler first waits, so the
        // events of a fetched batch keep their order on every channel (and share inserts).
        // The publish goes on in the background: the next fetch need not wait for Kafka's ack.
        // A project event's org-channel announcement follows once the store has answered; the
        // announcements keep the order of their events (announcements.ts).
        handle: async ({ event }) => {
          await Promise.all([
            appendAll(channelDeliveries(event)),
            announcements.deliveries(event)?.then(appendAll),
          ]);
        },
      })),
    ),
    beforeCommit: () => fanOut.settled(),
    onMembership,
  };

  /**
   * A new group reading "from latest" can miss what is published between joining and its first
   * fetch. Until a probe it published (a no-op access change) comes back, it is not yet reading.
   */
  const warmUp = async () => {
    const deadline = Date.now() + WARM_UP_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const probe = createEvent(realtimeEvents.realtimeAccessChanged, 'notify', {
        subjectId: instanceId,
        data: { orgId: null, userIds: [] },
      });
      let timer: NodeJS.Timeout | undefined;
      const seen = await new Promise<boolean>((resolve) => {
        probes.set(probe.id, () => resolve(true));
        timer = setTimeout(() => resolve(false), 1_000);
        publish([probe]).catch(() => resolve(false));
      });
      clearTimeout(timer);
      probes.delete(probe.id);
      if (seen) return;
    }
    logger.warn('the internal realtime topic did not echo a probe; continuing');
  };

  const pruneHistory = async (now?: Date) =>
    history.prune({ maxAgeMs: historyMaxAgeMs, keepLast: historyLimit, now });

  let pruning = false;
  const runRetention = async () => {
    if (pruning) return;
    pruning = true;
    try {
      const deleted = await pruneHistory();
      if (deleted > 0) logger.info({ deleted }, 'realtime history pruned');
    } catch (err) {
      logger.error({ err }, 'realtime history retention failed');
    } finally {
      pruning = false;
    }
  };

  return {
    instanceId,
    handleUpgrade: upgradeHandler({
      wss,
      resolveKey: deps.resolveKey,
      isRevoked: deps.isRevoked,
      logger,
      accepting: () => accepting,
      onConnection: (ws, user, authorization, channels) => hub.connect(ws, user, authorization, channels),
    }),
    append,
    lastSeq: (channel) => history.lastSeq(channel),
    accessChanged,
    start: async () => {
      consumer = await bus.consume(internalConsumer);
      await consumer.ready;
      await warmUp();
      timers.push(setInterval(() => hub.heartbeat(), heartbeatMs));
      timers.push(setInterval(() => void runRetention(), retentionIntervalMs));
      timers.push(setInterval(() => void (membership.joined ? undefined : resync()), RESYNC_INTERVAL_MS));
      source = await bus.consume(sourceConsumer);
      logger.info({ group: internalConsumer.groupId }, 'realtime hub started');
    },
    membership: () => membership,
    stop: async () => {
      accepting = false;
      fanOut.stop();
      for (const timer of timers.splice(0)) clearInterval(timer);
      await hub.closeAll(CLOSE.serviceRestart, 'service restart: reconnect and resume');
      await source?.stop();
      source = undefined;
      await consumer?.stop();
      consumer = undefined;
      // A head left behind only costs readers a few probes: not worth failing the shutdown over.
      await history.flushHeads().catch((err: unknown) => logger.warn({ err }, 'channel heads not written'));
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
    pruneHistory,
  };
}
