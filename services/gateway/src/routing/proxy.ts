import { Agent, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';
import { AppError, isDraining, problemBody, PROBLEM_CONTENT_TYPE, type Logger } from '@trellis/shared';
import { callerKey } from '../limits/limits.ts';
import type { CallOutcome, UpstreamBreakers } from './breakers.ts';
import { keepBody, replayableBody } from './replay.ts';
import type { Target, UpstreamPool } from './targets.ts';
import { upstreamFor } from './upstreams.ts';

export interface ProxyOptions {
  pool: UpstreamPool;
  timeoutMs: number;
  breakers: UpstreamBreakers;
  /** The largest body kept for sending again (BODY_LIMIT_BYTES: larger ones were refused already). */
  bodyLimitBytes: number;
  logger: Logger;
}

/** At most this many sends of one request (the first, and the retries on other targets). */
const MAX_ATTEMPTS = 3;

/** One send of a request to one target; the first report of its outcome counts. */
interface Attempt {
  target: Target;
  timedOut: boolean;
  outcome?: CallOutcome;
  report: (outcome: CallOutcome) => void;
}

const attempts = new WeakMap<IncomingMessage, Attempt>();

/** Forwarding headers a client may send: services believe the gateway's hop, so none passes through. */
const FORWARDING_HEADERS = [
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-real-ip',
];

/**
 * The gateway decides who the client is (`TRUSTED_PROXIES`): a service gets exactly that address
 * in `X-Forwarded-For`, never the chain the client sent.
 */
export function forwardClientAddress(headers: IncomingHttpHeaders, clientAddress: string | undefined): void {
  for (const name of FORWARDING_HEADERS) delete headers[name];
  if (clientAddress) headers['x-forwarded-for'] = clientAddress;
}

export function unavailable(upstream: string, retryAfterSeconds: number): AppError {
  return new AppError(503, 'UPSTREAM_UNAVAILABLE', {
    detail: `The ${upstream} service is unavailable.`,
    headers: { 'Retry-After': String(retryAfterSeconds) },
  });
}

export function timedOut504(upstream: string): AppError {
  return new AppError(504, 'UPSTREAM_TIMEOUT', { detail: `The ${upstream} service did not answer in time.` });
}

/** GET and HEAD change nothing; a request with an `Idempotency-Key` is answered once however often sent. */
function idempotent(req: Request): boolean {
  return req.method === 'GET' || req.method === 'HEAD' || req.headers['idempotency-key'] !== undefined;
}

/**
 * Whether a failed send may go to another target (architecture.md §7): only when the request
 * provably did not reach the first — the connection was refused, or reset before any answer — and
 * it is idempotent; any other request may have been handled, so its caller is told (503) rather
 * than it being done twice. Never after a timeout (the upstream may still be working on it) or
 * once the client has its answer's headers, and only when the body can be sent again (none, or
 * kept by `keepBody`).
 */
function retryable(req: Request, res: Response, attempt: Attempt): boolean {
  const { outcome } = attempt;
  if (outcome?.kind !== 'failed' || attempt.timedOut || res.headersSent || res.destroyed) return false;
  if (!idempotent(req) || !replayableBody(req)) return false;
  return ['ECONNREFUSED', 'ECONNRESET', 'EPIPE'].includes(outcome.code ?? '');
}

function writeProblem(
  target: ServerResponse | Socket,
  problem: AppError,
  requestId: string | undefined,
): void {
  if (!('writeHead' in target) || target.headersSent) {
    target.destroy();
    return;
  }
  target.writeHead(problem.status, { 'Content-Type': PROBLEM_CONTENT_TYPE, ...problem.headers });
  target.end(JSON.stringify(problemBody(problem, requestId)));
}

const failureCode = (outcome: CallOutcome | undefined) =>
  outcome?.kind === 'failed' ? outcome.code : outcome?.kind === 'timedOut' ? 'timeout' : undefined;

/**
 * Streams `/api/v1/<prefix>` requests to a target of their service, untouched but for the forwarding
 * headers (no body parser runs before this), through that target's circuit breaker, as the caller's
 * call. Targets are taken round-robin from the pool (those in rotation first); a send that failed
 * before any answer goes to the next target when `retryable` allows, up to MAX_ATTEMPTS. A reused
 * keep-alive connection the upstream closed under a GET (its idle timeout, a restart) is sent once
 * more even to the same target. Every failure to get an answer becomes a problem+json 503 or 504,
 * never a hang or an HTML page.
 */
export function apiProxy(options: ProxyOptions): RequestHandler {
  const { pool, timeoutMs, breakers, logger } = options;
  // Pooled keep-alive connections: without them every call opens a TCP connection and the
  // upstream's `Connection: close` would close the client's connection too.
  // An idle pooled connection is let go after 4 s, before the services' 5 s keep-alive timeout closes
  // it under a request (a PUT cannot be sent again; Node also honours a shorter Keep-Alive hint).
  const agent = new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64, timeout: 4_000 });
  const proxy = createProxyMiddleware<IncomingMessage, ServerResponse>({
    router: (req) => attempts.get(req)?.target.proxy ?? '',
    agent,
    changeOrigin: true,
    // Not `xfwd`: it appends to the client's X-Forwarded-For (see forwardClientAddress).
    on: {
      proxyReq: (proxyReq, req) => {
        const attempt = attempts.get(req);
        proxyReq.setTimeout(timeoutMs, () => {
          if (attempt) attempt.timedOut = true;
          proxyReq.destroy(new Error('upstream timeout'));
        });
      },
      proxyRes: (proxyRes, req) => {
        // `Connection` is hop-by-hop, but http-proxy copies the upstream's `keep-alive` onto the
        // client's answer: while this gateway drains, it says `close` instead, so the client's
        // connection ends after this answer and none is left to hold the shutdown.
        if (isDraining()) proxyRes.headers.connection = 'close';
        attempts.get(req)?.report({ kind: 'answered', status: proxyRes.statusCode ?? 502 });
      },
      error: (err, req, target) => {
        const attempt = attempts.get(req);
        // Failed after the answer began (the upstream reset mid-body): the client's answer is cut.
        if (!attempt || attempt.outcome) {
          (target as ServerResponse | Socket).destroy();
          return;
        }
        const code = (err as NodeJS.ErrnoException).code;
        attempt.report(attempt.timedOut ? { kind: 'timedOut' } : { kind: 'failed', code });
      },
    },
  });

  /** Sends the request to `target` through its breaker; undefined when the breaker refused it. */
  const send = async (req: Request, res: Response, next: NextFunction, target: Target) => {
    let attempt: Attempt | undefined;
    const admitted = await breakers.run(
      target.upstream,
      callerKey(req),
      () =>
        new Promise<CallOutcome>((resolve) => {
          const sent: Attempt = {
            target,
            timedOut: false,
            report: (outcome) => {
              if (sent.outcome) return;
              sent.outcome = outcome;
              resolve(outcome);
            },
          };
          attempt = sent;
          attempts.set(req, sent);
          void proxy(req, res, next);
        }),
      target.name,
    );
    return admitted ? attempt : undefined;
  };

  return async (req, res, next) => {
    const upstream = upstreamFor(req.path);
    if (!upstream) {
      next();
      return;
    }
    res.locals.metricsRoute = `/api/v1 → ${upstream}`;
    forwardClientAddress(req.headers, req.ip);
    // A client that leaves first is no news of the upstream (http-proxy reports no error then).
    res.once('close', () => attempts.get(req)?.report({ kind: 'abandoned' }));
    // Only an idempotent request may be sent twice: only its body is kept (others stream through).
    const body = idempotent(req) ? await keepBody(req, options.bodyLimitBytes) : 'streamed';
    if (body === 'aborted') return;
    if (body === 'too-large') {
      const detail = `The body must be at most ${options.bodyLimitBytes} bytes.`;
      writeProblem(res, new AppError(413, 'PAYLOAD_TOO_LARGE', { detail }), req.id);
      return;
    }
    const admits = (target: Target) => breakers.admits(upstream, target.name);
    const tried = new Set<Target>();
    let last: Attempt | undefined;
    for (let sends = 0; sends < MAX_ATTEMPTS; sends += 1) {
      // A reset reused connection may go once more to the same target when no other is left.
      const reset = sends === 1 && failureCode(last?.outcome) === 'ECONNRESET';
      const target = pool.pick(upstream, tried, admits) ?? (reset ? last?.target : undefined);
      if (!target) break;
      tried.add(target);
      const attempt = await send(req, res, next, target);
      if (!attempt) continue; // its breaker is open: the next target
      last = attempt;
      const code = failureCode(attempt.outcome);
      if (code === 'ECONNREFUSED') pool.eject(target, 'connection refused');
      const where = { upstream, target: target.name, code, requestId: req.id };
      if (retryable(req, res, attempt)) {
        logger.info(where, 'upstream send failed before any answer; sending it again');
        continue;
      }
      if (code !== undefined) {
        const problem = attempt.timedOut
          ? timedOut504(upstream)
          : unavailable(upstream, breakers.retryAfterSeconds);
        logger.warn({ ...where, status: problem.status }, 'upstream request failed');
        writeProblem(res, problem, req.id);
      }
      return;
    }
    logger.warn({ upstream, code: failureCode(last?.outcome), requestId: req.id }, 'no target could answer');
    writeProblem(res, unavailable(upstream, breakers.retryAfterSeconds), req.id);
  };
}
