import type { AuthUser, Logger } from '@trellis/shared';
import type { RawData, WebSocket } from 'ws';
import { parseChannel, userChannel, type ChannelName, type RealtimeEvent } from './channels.ts';
import type { ChannelHistory } from './history.ts';
import {
  clientMessageSchema,
  CLOSE,
  MAX_BUFFERED_BYTES,
  type ErrorCode,
  type ServerMessage,
} from './protocol.ts';
import { addToIndex, deleteFromIndex } from './set-index.ts';

export type AccessVerdict = 'ok' | 'NOT_FOUND' | 'FORBIDDEN';

/** The policy the hub asks; notify's projection implements it (the hub holds no access rules of its own). */
export interface ChannelAccess {
  /**
   * May this user subscribe to the channel (`project:<id>` | `task:<id>` | `org:<id>` |
   * `chat:<channelId>`)? `authorization` is the user's `Bearer <jwt>`, for fallbacks that ask the
   * owning service.
   */
  check(userId: string, channel: string, authorization: string): Promise<AccessVerdict>;
}

interface Client {
  ws: WebSocket;
  userId: string;
  /** The id of the access token the socket was opened with. */
  jti: string;
  authorization: string;
  subscriptions: Map<string, Subscription>;
  /** Cleared on every heartbeat; a pong (or any message) sets it again. */
  alive: boolean;
  /** Client messages are handled one at a time, in arrival order. */
  inbound: Promise<void>;
  /** Bumped when the user's access may have shrunk; a subscribe whose check straddles a bump checks again. */
  accessEpoch: number;
  expiry: NodeJS.Timeout;
}

interface Subscription {
  client: Client;
  channel: string;
  /** The last seq this socket has been sent on the channel (set when the subscription starts). */
  lastSeq: number;
  /**
   * The seqs this socket was sent on the channel since the subscription (re)started, a contiguous
   * range: a later `subscribe` with an older `since` does not send them again.
   */
  sent?: { from: number; to: number };
  active: boolean;
  /** Everything sent for this (socket, channel) runs through this chain, one step at a time. */
  tail: Promise<void>;
}

export interface HubDeps {
  history: ChannelHistory;
  access: ChannelAccess;
  logger: Logger;
  maxSubscriptions: number;
  /** An event sent to a socket: `live` from `deliver`, or replayed from the history. */
  onEventDelivered?: (event: RealtimeEvent, live: boolean) => void;
}

const ACCESS_ERRORS: Record<Exclude<AccessVerdict, 'ok'>, string> = {
  NOT_FOUND: 'The channel does not exist.',
  FORBIDDEN: 'You may not subscribe to this channel.',
};
const MALFORMED_CHANNEL = 'Channels are project:<id>, task:<id>, org:<id> or chat:<id> (lowercase UUIDs).';

/**
 * The sockets of this replica and what they are subscribed to. Per (socket, channel) it keeps the
 * last seq sent and serialises all sending, so a socket gets each channel in order, without gaps
 * (filled from the history) and without duplicates, whatever order the internal topic delivers in.
 */
export class Hub {
  private readonly deps: HubDeps;
  private readonly logger: Logger;
  private readonly clients = new Set<Client>();
  private readonly byUser = new Map<string, Set<Client>>();
  private readonly byChannel = new Map<string, Set<Subscription>>();

  constructor(deps: HubDeps) {
    this.deps = deps;
    this.logger = deps.logger;
  }

  get socketCount(): number {
    return this.clients.size;
  }

  /** A socket whose token has been verified: welcome, its inbox, then `channels` (access-checked). */
  connect(ws: WebSocket, user: AuthUser, authorization: string, channels: string[]): void {
    const expiresInMs = Math.min(Math.max(user.expiresAt * 1000 - Date.now(), 0), 2 ** 31 - 1);
    const client: Client = {
      ws,
      userId: user.id,
      jti: user.jti,
      authorization,
      subscriptions: new Map(),
      alive: true,
      inbound: Promise.resolve(),
      accessEpoch: 0,
      expiry: setTimeout(() => ws.close(CLOSE.tokenExpired, 'access token expired'), expiresInMs),
    };
    this.clients.add(client);
    addToIndex(this.byUser, user.id, client);
    ws.on('pong', () => {
      client.alive = true;
    });
    ws.on('message', (data, isBinary) => {
      client.alive = true;
      this.handleInbound(client, () => this.onMessage(client, data, isBinary));
    });
    ws.on('close', () => this.disconnect(client));
    ws.on('error', (err) => this.logger.debug({ err, userId: user.id }, 'websocket error'));

    this.send(client, { type: 'welcome', userId: user.id });
    for (const channel of [userChannel(user.id), ...channels]) {
      this.handleInbound(client, () => this.subscribe(client, channel));
    }
  }

  /** A sequenced event from the internal topic, for every local subscriber of the channel. */
  deliver(channel: string, seq: number, event: RealtimeEvent): void {
    for (const sub of this.byChannel.get(channel) ?? []) {
      this.enqueue(sub, async () => {
        if (seq <= sub.lastSeq) return; // already sent (replay, another replica's duplicate)
        if (seq > sub.lastSeq + 1) await this.catchUp(sub, seq - 1);
        this.sendEvent(sub, seq, event, true);
      });
    }
  }

  /**
   * Reads the end of every channel with local subscribers and sends each socket what it lacks up to
   * there: events another replica sequenced without publishing them here (architecture.md §3, and
   * the hub's README). One channel at a time; a channel whose end cannot be read closes its sockets,
   * which then resume with `since`.
   */
  async resync(): Promise<void> {
    for (const [channel, subs] of [...this.byChannel]) {
      let end: number;
      try {
        end = await this.deps.history.lastSeq(channel);
      } catch (err) {
        for (const sub of [...subs]) this.fail(sub.client, err);
        continue;
      }
      for (const sub of [...subs]) {
        this.enqueue(sub, async () => {
          if (end > sub.lastSeq) await this.catchUp(sub, end);
        });
      }
    }
  }

  /**
   * Access may have shrunk: re-checks the non-inbox subscriptions of these users' sockets (of every
   * local socket when `userIds` is empty and an org is named) and ends the failing ones.
   */
  async recheckAccess(orgId: string | null, userIds: string[]): Promise<void> {
    const clients =
      userIds.length > 0
        ? [...new Set(userIds.flatMap((id) => [...(this.byUser.get(id) ?? [])]))]
        : orgId
          ? [...this.clients]
          : [];
    for (const client of clients) client.accessEpoch += 1;
    for (const client of clients) {
      try {
        await this.recheckClient(client);
      } catch (err) {
        this.fail(client, err);
      }
    }
  }

  /** Terminates sockets that missed the previous ping, pings the rest. */
  heartbeat(): void {
    for (const client of this.clients) {
      if (!client.alive) {
        client.ws.terminate();
        continue;
      }
      client.alive = false;
      client.ws.ping();
    }
  }

  /** Closes the sockets opened with the access token `jti` (revoked: logout, password reset…) with 4002. */
  revoke(jti: string): void {
    for (const client of this.clients)
      if (client.jti === jti) client.ws.close(CLOSE.tokenRevoked, 'access token revoked');
  }

  /** Closes every socket; resolves once all have closed (stragglers are terminated after `graceMs`). */
  async closeAll(code: number, reason: string, graceMs = 2_000): Promise<void> {
    const sockets = [...this.clients].map((client) => client.ws);
    const closed = sockets.map(
      (ws) =>
        new Promise<void>((resolve) => (ws.readyState === ws.CLOSED ? resolve() : ws.once('close', resolve))),
    );
    for (const ws of sockets) ws.close(code, reason);
    const timer = setTimeout(() => sockets.forEach((ws) => ws.terminate()), graceMs);
    await Promise.all(closed);
    clearTimeout(timer);
  }

  private handleInbound(client: Client, work: () => Promise<void> | void): void {
    client.inbound = client.inbound.then(work).catch((err: unknown) => this.fail(client, err));
  }

  private async onMessage(client: Client, data: RawData, isBinary: boolean): Promise<void> {
    let parsed: unknown;
    try {
      // binaryType is the default 'nodebuffer': data is one Buffer.
      parsed = isBinary ? undefined : JSON.parse((data as Buffer).toString('utf8'));
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined) return this.error(client, 'BAD_REQUEST', 'Messages are JSON text.');
    const message = clientMessageSchema.safeParse(parsed);
    if (!message.success) {
      const channel = (parsed as { channel?: unknown } | null)?.channel;
      return this.error(
        client,
        'BAD_REQUEST',
        'Expected {"type":"subscribe","channel","since"?}, {"type":"unsubscribe","channel"} or {"type":"ping"}.',
        typeof channel === 'string' ? channel : undefined,
      );
    }
    const request = message.data;
    switch (request.type) {
      case 'ping':
        return this.send(client, { type: 'pong' });
      case 'subscribe':
        return this.subscribe(client, request.channel, request.since);
      case 'unsubscribe':
        return this.unsubscribe(client, request.channel);
    }
  }

  /**
   * New subscription: access check, then `subscribed` with the channel's last seq, then (with
   * `since`) the events after it or `reset` when they are no longer retained, then live events.
   * Subscribing again to a channel restarts it from `since` (or from where the socket is).
   */
  private async subscribe(client: Client, channel: string, since?: number): Promise<void> {
    const name = parseChannel(channel);
    if (!name) return this.error(client, 'BAD_REQUEST', MALFORMED_CHANNEL, channel);
    if (!client.subscriptions.has(channel) && client.subscriptions.size >= this.deps.maxSubscriptions) {
      const limit = `At most ${this.deps.maxSubscriptions} subscriptions per socket.`;
      return this.error(client, 'BAD_REQUEST', limit, channel);
    }
    const verdict = await this.checkAccess(client, name, channel);
    if (!this.clients.has(client)) return; // closed meanwhile
    // Read after the check: a re-check may have ended the subscription meanwhile.
    const existing = client.subscriptions.get(channel);
    if (verdict !== 'ok') {
      if (existing) this.end(existing);
      return this.error(client, verdict, ACCESS_ERRORS[verdict], channel);
    }
    const sub = existing ?? this.register(client, channel);
    this.enqueue(sub, () => this.start(sub, since ?? (existing ? sub.lastSeq : undefined)));
  }

  private async checkAccess(client: Client, name: ChannelName, channel: string): Promise<AccessVerdict> {
    // A user's only inbox is their own.
    if (name.kind === 'user') return name.id === client.userId ? 'ok' : 'FORBIDDEN';
    for (;;) {
      const epoch = client.accessEpoch;
      const verdict = await this.deps.access.check(client.userId, channel, client.authorization);
      if (epoch === client.accessEpoch) return verdict;
    }
  }

  private async start(sub: Subscription, since: number | undefined): Promise<void> {
    // What the socket already has (the user channel it was subscribed to on connect, before the
    // client's own subscribe with `since` arrived): replayed events skip it, none comes twice.
    const already = sub.sent;
    sub.sent = undefined;
    const current = await this.deps.history.lastSeq(sub.channel);
    this.send(sub.client, { type: 'subscribed', channel: sub.channel, seq: current });
    if (since === undefined || since >= current) {
      // A `since` beyond the channel's end is a client that cannot be replayed to: reset it.
      if (since !== undefined && since > current)
        this.send(sub.client, { type: 'reset', channel: sub.channel });
      sub.lastSeq = current;
      return;
    }
    sub.lastSeq = since;
    await this.catchUp(sub, current, already);
  }

  /**
   * Sends the retained events after `sub.lastSeq` up to `upTo`, in order. When they are not all
   * there any more (retention), the socket gets `reset` and continues from `upTo`.
   */
  private async catchUp(sub: Subscription, upTo: number, already?: Subscription['sent']): Promise<void> {
    for await (const { seq, event } of this.deps.history.range(sub.channel, sub.lastSeq, upTo)) {
      if (!sub.active) return;
      if (seq !== sub.lastSeq + 1) break;
      if (already && seq >= already.from && seq <= already.to) this.markSent(sub, seq);
      else this.sendEvent(sub, seq, event, false);
    }
    if (sub.active && sub.lastSeq < upTo) {
      this.send(sub.client, { type: 'reset', channel: sub.channel });
      sub.lastSeq = upTo;
    }
  }

  private unsubscribe(client: Client, channel: string): void {
    if (!parseChannel(channel)) return this.error(client, 'BAD_REQUEST', MALFORMED_CHANNEL, channel);
    const sub = client.subscriptions.get(channel);
    if (sub) this.end(sub);
  }

  private async recheckClient(client: Client): Promise<void> {
    const subs = [...client.subscriptions.values()].filter((s) => parseChannel(s.channel)?.kind !== 'user');
    await Promise.all(
      subs.map(async (sub) => {
        const verdict = await this.deps.access.check(client.userId, sub.channel, client.authorization);
        if (verdict === 'ok' || client.subscriptions.get(sub.channel) !== sub) return;
        this.end(sub);
        this.send(client, { type: 'unsubscribed', channel: sub.channel, reason: 'ACCESS_REVOKED' });
      }),
    );
  }

  private register(client: Client, channel: string): Subscription {
    const sub: Subscription = { client, channel, lastSeq: 0, active: true, tail: Promise.resolve() };
    client.subscriptions.set(channel, sub);
    addToIndex(this.byChannel, channel, sub);
    return sub;
  }

  /** Stops a subscription at once: steps already queued for it send nothing more. */
  private end(sub: Subscription): void {
    sub.active = false;
    if (sub.client.subscriptions.get(sub.channel) === sub) sub.client.subscriptions.delete(sub.channel);
    deleteFromIndex(this.byChannel, sub.channel, sub);
  }

  private enqueue(sub: Subscription, step: () => Promise<void>): void {
    sub.tail = sub.tail
      .then(() => (sub.active ? step() : undefined))
      .catch((err: unknown) => this.fail(sub.client, err));
  }

  private disconnect(client: Client): void {
    clearTimeout(client.expiry);
    for (const sub of [...client.subscriptions.values()]) this.end(sub);
    this.clients.delete(client);
    deleteFromIndex(this.byUser, client.userId, client);
  }

  /**
   * Something on our side failed (history read, access check): the socket cannot be sure it has
   * everything, so it is closed; the client reconnects and resumes with `since`.
   */
  private fail(client: Client, err: unknown): void {
    this.logger.error({ err, userId: client.userId }, 'realtime delivery failed; closing the socket');
    for (const sub of [...client.subscriptions.values()]) this.end(sub);
    client.ws.close(CLOSE.internalError, 'internal error');
  }

  private sendEvent(sub: Subscription, seq: number, event: RealtimeEvent, live: boolean): void {
    if (!sub.active) return;
    this.send(sub.client, { type: 'event', channel: sub.channel, seq, event });
    this.markSent(sub, seq);
    this.deps.onEventDelivered?.(event, live);
  }

  private markSent(sub: Subscription, seq: number): void {
    sub.lastSeq = seq;
    sub.sent =
      sub.sent && seq === sub.sent.to + 1 ? { from: sub.sent.from, to: seq } : { from: seq, to: seq };
  }

  private error(client: Client, code: ErrorCode, message: string, channel?: string): void {
    this.send(client, { type: 'error', ...(channel === undefined ? {} : { channel }), code, message });
  }

  private send(client: Client, message: ServerMessage): void {
    const { ws } = client;
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      // It cannot keep up; it will reconnect and resume with `since` instead of us buffering without end.
      this.logger.warn({ userId: client.userId }, 'websocket client too slow; dropping it');
      ws.terminate();
      return;
    }
    ws.send(JSON.stringify(message));
  }
}
