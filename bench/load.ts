// What the load generators share: nearest-rank percentiles and cheap keep-alive JSON writes.
import { Agent, request } from 'node:http';

/** The nearest-rank percentile of ascending `sorted` (NaN when empty). */
export const percentile = (sorted: number[], p: number): number =>
  sorted.length === 0
    ? NaN
    : (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN);

/**
 * Writes go through node:http with pooled keep-alive connections and the response body dropped: the
 * load generator shares the machine with everything it measures, and `fetch` cost it about 1.4 ms of
 * CPU per write. 64 sockets: far more than 100 writes/s keep in flight; beyond that, queueing in
 * the agent would count as latency.
 */
export const writesAgent = new Agent({ keepAlive: true, maxSockets: 64 });

/** Sends one JSON write and answers its status. */
export function sendJson(method: string, url: string, token: string, body: unknown): Promise<number> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        agent: writesAgent,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
      },
      (res) => {
        res.on('error', reject);
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
