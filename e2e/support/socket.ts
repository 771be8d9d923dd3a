import { WebSocket } from 'ws';
import { waitFor } from '@trellis/shared/testing';

/** A server message of api.md §9 (only the fields tests read are typed). */
export interface ServerMessage {
  type: string;
  channel?: string;
  seq?: number;
  code?: string;
  reason?: string;
  userId?: string;
  event?: {
    id: string;
    type: string;
    occurredAt: string;
    actorId: string | null;
    // Event data differs per type; tests read into it freely and assert on what they find.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    data: Record<string, any>;
  };
}

/**
 * A real WebSocket client through the gateway's `/ws`: every server message is kept in arrival
 * order, so tests can wait for one and inspect what came before or after it.
 */
export class Socket {
  readonly messages: ServerMessage[] = [];
  private readonly ws: WebSocket;
  private readonly listeners: Array<(m: ServerMessage) => void> = [];
  closed = false;
  /** The close code, once closed (1006 when the connection dropped without a close frame). */
  closeCode: number | undefined;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as ServerMessage;
      this.messages.push(message);
      for (const listener of this.listeners) listener(message);
    });
    ws.on('close', (code) => {
      this.closed = true;
      this.closeCode = code;
    });
  }

  /** Connects with the token in the query string and waits for the welcome. */
  static async open(gatewayUrl: string, token: string, path = '/ws'): Promise<Socket> {
    const url = new URL(path, gatewayUrl.replace(/^http/, 'ws'));
    url.searchParams.set('access_token', token);
    const ws = new WebSocket(url);
    const socket = new Socket(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
    await socket.next((m) => m.type === 'welcome', 'welcome');
    return socket;
  }

  /** Calls back on every message from now on (the moment of arrival matters to benchmarks). */
  onMessage(listener: (m: ServerMessage) => void): void {
    this.listeners.push(listener);
  }

  send(message: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(message));
  }

  /** Subscribes and waits for the answer (`subscribed`, `reset` or `error`). */
  async subscribe(channel: string, since?: number): Promise<ServerMessage> {
    const from = this.messages.length;
    this.send({ type: 'subscribe', channel, ...(since === undefined ? {} : { since }) });
    return this.next(
      (m) => m.channel === channel && ['subscribed', 'error'].includes(m.type),
      `subscribe ${channel}`,
      from,
    );
  }

  /** The first message from index `from` on that matches. */
  next(
    match: (m: ServerMessage) => boolean,
    what: string,
    from = 0,
    timeoutMs = 15_000,
  ): Promise<ServerMessage> {
    return waitFor(() => this.messages.slice(from).find(match), { what, timeoutMs, intervalMs: 10 });
  }

  /** The events received on a channel so far, in arrival order. */
  events(channel: string): ServerMessage[] {
    return this.messages.filter((m) => m.type === 'event' && m.channel === channel);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}
