import type { TrellisClient } from './client.ts';

/** One event as the feed delivers it (api.md §9): the channel's seq, and the event. */
export interface RealtimeMessage {
  channel: string;
  seq: number;
  event: {
    id: string;
    type: string;
    occurredAt: string;
    actorId: string | null;
    data: Record<string, unknown>;
  };
}

export interface RealtimeOptions {
  /** Called for every event, in seq order per channel, each once across reconnects. */
  onEvent: (message: RealtimeMessage) => void;
  /** A channel's history was trimmed past where this client was: reload its state. */
  onReset?: (channel: string) => void;
  /** A subscription ended (ACCESS_REVOKED), or was refused (NOT_FOUND, FORBIDDEN, BAD_REQUEST). */
  onClosed?: (channel: string, reason: string) => void;
  /** Waits between reconnects, growing to this (ms). */
  maxBackoffMs?: number;
}

/**
 * A WebSocket on the gateway's /ws that stays subscribed: it reconnects with backoff (with a fresh
 * token after close 4001), and resumes every channel with `since` = the last seq it delivered, so
 * nothing is missed or seen twice. Close 4002 (token revoked) ends it.
 */
export class TrellisRealtime {
  private readonly client: TrellisClient;
  private readonly url: string;
  private readonly options: RealtimeOptions;
  private socket: WebSocket | undefined;
  private readonly channels = new Map<string, number>();
  private readonly waiting = new Map<
    string,
    { resolve: (seq: number) => void; reject: (err: Error) => void }
  >();
  private stopped = false;
  private attempts = 0;
  private opened: Promise<void> | undefined;

  constructor(client: TrellisClient, baseUrl: string, options: RealtimeOptions) {
    this.client = client;
    this.url = `${baseUrl.replace(/^http/, 'ws')}/ws`;
    this.options = options;
  }

  /** Opens the socket (resolves on the server's welcome). */
  connect(): Promise<void> {
    this.opened ??= this.open();
    return this.opened;
  }

  /**
   * Subscribes a channel (`project:<id>`, `task:<id>`, …): events from now on, or after `since`.
   * Resolves with the channel's seq once the server confirms; rejects when it refuses.
   */
  subscribe(channel: string, since?: number): Promise<number> {
    if (!this.channels.has(channel)) this.channels.set(channel, since ?? -1);
    const confirmed = new Promise<number>((resolve, reject) =>
      this.waiting.set(channel, { resolve, reject }),
    );
    this.send({ type: 'subscribe', channel, ...(since === undefined ? {} : { since }) });
    return confirmed;
  }

  unsubscribe(channel: string): void {
    this.channels.delete(channel);
    this.send({ type: 'unsubscribe', channel });
  }

  /** The last seq delivered on a channel (−1 before any). */
  lastSeq(channel: string): number | undefined {
    return this.channels.get(channel);
  }

  close(): void {
    this.stopped = true;
    this.socket?.close(1000);
  }

  private send(message: object): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  private async open(): Promise<void> {
    const token = await this.client.accessToken();
    const socket = new WebSocket(`${this.url}?access_token=${encodeURIComponent(token ?? '')}`);
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener('message', (frame) => {
        const message = JSON.parse(String(frame.data)) as Record<string, unknown> & { type: string };
        if (message.type === 'welcome') {
          this.attempts = 0;
          for (const [channel, seq] of this.channels)
            this.send({ type: 'subscribe', channel, ...(seq >= 0 ? { since: seq } : {}) });
          resolve();
        } else this.receive(message);
      });
      socket.addEventListener('close', (event) => {
        reject(new Error(`closed before welcome (${event.code})`));
        void this.closed(event.code);
      });
    });
  }

  private receive(message: Record<string, unknown> & { type: string }): void {
    const channel = String(message.channel ?? '');
    if (message.type === 'event') {
      const seq = Number(message.seq);
      if (seq <= (this.channels.get(channel) ?? -1)) return; // already delivered before a reconnect
      this.channels.set(channel, seq);
      this.options.onEvent(message as unknown as RealtimeMessage);
    } else if (message.type === 'subscribed') {
      if ((this.channels.get(channel) ?? -1) < 0) this.channels.set(channel, Number(message.seq));
      this.waiting.get(channel)?.resolve(Number(message.seq));
      this.waiting.delete(channel);
    } else if (message.type === 'reset') {
      this.options.onReset?.(channel);
    } else if (message.type === 'unsubscribed' || message.type === 'error') {
      const reason = String(message.reason ?? message.code);
      this.channels.delete(channel);
      this.waiting.get(channel)?.reject(new Error(`${channel}: ${reason}`));
      this.waiting.delete(channel);
      this.options.onClosed?.(channel, reason);
    }
  }

  private async closed(code: number): Promise<void> {
    this.opened = undefined;
    if (this.stopped || code === 4002) return;
    if (code === 4001) await this.client.refresh().catch(() => undefined);
    const wait = Math.min(this.options.maxBackoffMs ?? 5000, 100 * 2 ** this.attempts++);
    await new Promise((resolve) => setTimeout(resolve, wait));
    if (!this.stopped) await this.connect().catch(() => undefined);
  }
}
