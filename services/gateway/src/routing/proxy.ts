import { Agent, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { NextFunction, RequestHandler } from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';
import { AppError, problemBody, PROBLEM_CONTENT_TYPE, type Logger } from '@trellis/shared';
import { callerKey } from '../limits/limits.ts';
import type { CallOutcome, UpstreamBreakers } from './breakers.ts';
import { upstreamFor, type Upstream, type UpstreamUrls } from './upstreams.ts';

export interface ProxyOptions {
  upstreams: UpstreamUrls;
  timeoutMs: number;
  breakers: UpstreamBreakers;
  logger: Logger;
}

const timedOut = new WeakSet<IncomingMessage>();
/** Requests sent a second time, and how to send them. */
const resent = new WeakSet<IncomingMessage>();
const nexts = new WeakMap<IncomingMessage, NextFunction>();
/** How to report what became of a request's proxied call; the first report counts. */
const reporters = new WeakMap<IncomingMessage, (outcome: CallOutcome) => void>();

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

/**
 * A pooled keep-alive connection the upstream closed as it was reused (its idle timeout, a restart):
 * the request reached no handler. A GET or HEAD — no body to replay, nothing it could have changed —
 * goes once more on a fresh connection instead of failing the client; anything else is answered 503.
 */
function resendable(err: Error, req: IncomingMessage, target: ServerResponse | Socket): boolean {
  return (
    (err as NodeJS.ErrnoException).code === 'ECONNRESET' &&
    (req.method === 'GET' || req.method === 'HEAD') &&
    !resent.has(req) &&
    !timedOut.has(req) &&
    'headersSent' in target &&
    !target.headersSent
  );
}

function writeProblem(
  target: ServerResponse | Socket,
  problem: AppError,
  requestId: string | undefined,
): void {
  if (!('writeHead' in target)) {
    target.destroy();
    return;
  }
  if (target.headersSent) {
    target.destroy();
    return;
  }
  target.writeHead(problem.status, { 'Content-Type': PROBLEM_CONTENT_TYPE, ...problem.headers });
  target.end(JSON.stringify(problemBody(problem, requestId)));
}

/** The fields of a target http-proxy reads (those of a legacy `url.parse` result). */
interface ProxyTarget {
  href: string;
  protocol: string;
  host: string;
  hostname: string;
  port: string;
  path: string;
  pathname: string;
}

function parsedTarget(url: string): ProxyTarget {
  const u = new URL(url);
  return {
    href: u.href,
    protocol: u.protocol,
    host: u.host,
    // url.parse gave IPv6 literals without their brackets, as http.request expects them.
    hostname: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: u.port,
    path: u.pathname + u.search,
    pathname: u.pathname,
  };
}

/**
 * Streams `/api/v1/<prefix>` requests to their service untouched but for the forwarding headers (no
 * body parser runs before this), through that upstream's circuit breaker, as the caller's call.
 * Every failure to get an answer becomes a problem+json 503 or 504, never a hang or an HTML page.
 */
export function apiProxy(options: ProxyOptions): RequestHandler {
  const { upstreams, timeoutMs, breakers, logger } = options;
  // Pooled keep-alive connections: without them every call opens a TCP connection and the
  // upstream's `Connection: close` would close the client's connection too.
  // An idle pooled connection is let go after 4 s, before the services' 5 s keep-alive timeout closes
  // it under a request (a PUT cannot be sent again; Node also honours a shorter Keep-Alive hint).
  const agent = new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64, timeout: 4_000 });
  // Parsed once: http-proxy would otherwise run the legacy url.parse on a string target per request.
  const targets = Object.fromEntries(
    Object.entries(upstreams).map(([name, url]) => [name, parsedTarget(url)]),
  ) as Record<Upstream, ProxyTarget>;
  const proxy = createProxyMiddleware<IncomingMessage, ServerResponse>({
    router: (req) => targets[upstreamFor(req.url ?? '') as Upstream],
    agent,
    changeOrigin: true,
    // Not `xfwd`: it appends to the client's X-Forwarded-For (see forwardClientAddress).
    on: {
      proxyReq: (proxyReq, req) => {
        proxyReq.setTimeout(timeoutMs, () => {
          timedOut.add(req);
          proxyReq.destroy(new Error('upstream timeout'));
        });
      },
      proxyRes: (proxyRes, req) => {
        reporters.get(req)?.({ kind: 'answered', status: proxyRes.statusCode ?? 502 });
      },
      error: (err, req, target) => {
        const upstream = upstreamFor(req.url ?? '') ?? 'upstream';
        const next = nexts.get(req);
        if (next && resendable(err, req, target as ServerResponse | Socket)) {
          resent.add(req);
          logger.info({ upstream, requestId: req.id }, 'upstream closed a reused connection; sent again');
          void proxy(req, target as ServerResponse, next);
          return;
        }
        const late = timedOut.has(req);
        const code = (err as NodeJS.ErrnoException).code;
        reporters.get(req)?.(late ? { kind: 'timedOut' } : { kind: 'failed', code });
        const problem = late ? timedOut504(upstream) : unavailable(upstream, breakers.retryAfterSeconds);
        logger.warn({ err, upstream, requestId: req.id, status: problem.status }, 'upstream request failed');
        writeProblem(target as ServerResponse | Socket, problem, req.id);
      },
    },
  });

  return async (req, res, next) => {
    const upstream = upstreamFor(req.path);
    if (!upstream) {
      next();
      return;
    }
    res.locals.metricsRoute = `/api/v1 → ${upstream}`;
    forwardClientAddress(req.headers, req.ip);
    const admitted = await breakers.run(
      upstream,
      callerKey(req),
      () =>
        new Promise<CallOutcome>((resolve) => {
          reporters.set(req, (outcome) => {
            reporters.delete(req);
            resolve(outcome);
          });
          // A client that leaves first is no news of the upstream (http-proxy reports no error then).
          res.once('close', () => reporters.get(req)?.({ kind: 'abandoned' }));
          nexts.set(req, next);
          void proxy(req, res, next);
        }),
    );
    if (!admitted) writeProblem(res, unavailable(upstream, breakers.retryAfterSeconds), req.id);
  };
}
