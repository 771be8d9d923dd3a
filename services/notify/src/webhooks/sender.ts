import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { guardedLookup, isPrivateAddress, type TargetPolicy } from './target-guard.ts';

/** What one attempt came to; the receiver's body is read up to 4 KiB and dropped. */
export interface SendResult {
  status: number | null;
  durationMs: number;
  error: string | null;
}

const MAX_RESPONSE_BYTES = 4096;
/** Connections kept open between deliveries to one receiver (the lookup still guards each new one). */
const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 32 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 32 }),
};

/**
 * One POST to a receiver: no redirect followed (a 3xx is a failure), the whole exchange bounded by
 * `timeoutMs`, and the address checked when connecting (`guardedLookup`). Never throws.
 */
export function send(
  target: string,
  headers: Record<string, string>,
  body: string,
  options: { timeoutMs: number; policy: TargetPolicy },
): Promise<SendResult> {
  const started = performance.now();
  const done = (status: number | null, error: string | null): SendResult => ({
    status,
    error,
    durationMs: Math.round(performance.now() - started),
  });
  return new Promise((resolve) => {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      resolve(done(null, 'invalid URL'));
      return;
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) && !options.policy.allowPrivateNetworks && isPrivateAddress(host)) {
      resolve(done(null, 'address not allowed'));
      return;
    }
    const client = url.protocol === 'https:' ? https : http;
    const request = client.request(url, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      lookup: guardedLookup(options.policy),
      agent: url.protocol === 'https:' ? agents['https:'] : agents['http:'],
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    request.on('response', (response) => {
      let read = 0;
      response.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read > MAX_RESPONSE_BYTES) response.destroy();
      });
      const finish = () => resolve(done(response.statusCode ?? null, null));
      response.on('end', finish);
      response.on('close', finish);
      response.on('error', finish);
    });
    request.on('error', (err: NodeJS.ErrnoException) => {
      const reason =
        err.name === 'AbortError' || err.name === 'TimeoutError' ? 'timed out' : (err.code ?? err.message);
      resolve(done(null, reason));
    });
    request.end(body);
  });
}
