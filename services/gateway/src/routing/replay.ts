import type { IncomingMessage } from 'node:http';

/** Requests whose body was read into memory, so that any send of them can write it again. */
const kept = new WeakSet<IncomingMessage>();

function declaresBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/**
 * Whether the request can be sent once more: it has no body, or `keepBody` kept it. A streamed body
 * is gone once the first send read it.
 */
export function replayableBody(req: IncomingMessage): boolean {
  return kept.has(req) || !declaresBody(req);
}

/**
 * Reads the request's body into memory (at most `limitBytes`: `too-large` past it, and the caller
 * answers 413; `aborted` when the client went away first), so that a send refused by one replica can go to another. http-proxy sends a body with
 * `req.pipe(proxyRequest)`, and a read stream cannot be read twice: the request's `pipe` writes the
 * kept bytes instead, for every send. Bodies are small (the gateway refuses a Content-Length over
 * BODY_LIMIT_BYTES before this runs); a chunked one is bounded here.
 */
export async function keepBody(
  req: IncomingMessage,
  limitBytes: number,
): Promise<'kept' | 'too-large' | 'aborted'> {
  if (!declaresBody(req)) return 'kept';
  const chunks: Buffer[] = [];
  let size = 0;
  const read = await new Promise<'complete' | 'too-large' | 'aborted'>((resolve) => {
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        req.off('data', onData);
        req.resume(); // the rest is drained, not kept
        resolve('too-large');
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve('complete'));
    req.once('error', () => resolve('aborted'));
    req.once('close', () => resolve(req.complete ? 'complete' : 'aborted'));
  });
  if (read !== 'complete') return read;
  const body = Buffer.concat(chunks, size);
  req.pipe = (<T extends NodeJS.WritableStream>(destination: T): T => {
    destination.end(body);
    return destination;
  }) as typeof req.pipe;
  kept.add(req);
  return 'kept';
}
