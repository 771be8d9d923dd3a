import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook as Verifier } from 'standardwebhooks';

/** One request a `WebhookReceiver` got, verified with the standardwebhooks package. */
export interface ReceivedDelivery {
  path: string;
  /** The `webhook-id` header: one per delivery, the same on its retries. */
  id: string;
  event: { id: string; type: string; subject: { kind: string; id: string }; data: Record<string, unknown> };
  answered: number;
  at: number;
}

/**
 * A real HTTP receiver for webhook tests and benchmarks. Each path has a script of statuses (the
 * last one repeats); every request is verified against the secret registered for its path with
 * the Standard Webhooks reference library before it is answered, so a bad signature fails the test.
 */
export class WebhookReceiver {
  readonly received: ReceivedDelivery[] = [];
  readonly secrets = new Map<string, string>();
  /** Called for each verified delivery (a benchmark times them). */
  onDelivery: ((delivery: ReceivedDelivery) => void) | undefined;
  private readonly scripts = new Map<string, number[]>();
  private readonly server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      const path = req.url ?? '/';
      const secret = this.secrets.get(path);
      assert.ok(secret, `no secret for ${path}`);
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      // Throws on a bad signature or a stale timestamp: the test fails on the receiver's side.
      const event = new Verifier(secret).verify(body, headers) as ReceivedDelivery['event'];
      const script = this.scripts.get(path) ?? [200];
      const answered = (script.length > 1 ? script.shift() : script[0]) ?? 200;
      const delivery = { path, id: headers['webhook-id'] ?? '', event, answered, at: performance.now() };
      this.received.push(delivery);
      this.onDelivery?.(delivery);
      res.writeHead(answered).end('ok');
    });
  });

  /** Listens on a free port of 127.0.0.1; answers the base URL. */
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  script(path: string, statuses: number[]): void {
    this.scripts.set(path, [...statuses]);
  }

  at(path: string): ReceivedDelivery[] {
    return this.received.filter((r) => r.path === path);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
