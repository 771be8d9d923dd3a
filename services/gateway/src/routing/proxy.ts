import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { RequestHandler } from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';
import { AppError, problemBody, PROBLEM_CONTENT_TYPE, type Logger } from '@trellis/shared';
import { upstreamFor, type UpstreamUrls } from './upstreams.ts';

export interface ProxyOptions {
  upstreams: UpstreamUrls;
  timeoutMs: number;
  logger: Logger;
}

const RETRY_AFTER_SECONDS = '5';
const timedOut = new WeakSet<IncomingMessage>();

function upstreamFailure(req: IncomingMessage, upstream: string): AppError {
  if (timedOut.has(req)) {
    return new AppError(504, 'UPSTREAM_TIMEOUT', {
      detail: `The ${upstream} service did not answer in time.`,
    });
  }
  return new AppError(503, 'UPSTREAM_UNAVAILABLE', {
    detail: `The ${upstream} service is unavailable.`,
    headers: { 'Retry-After': RETRY_AFTER_SECONDS },
  });
}

/**
 * Streams `/api/v1/<prefix>` requests to their service untouched (no body parser runs before
 * this). Every failure to get an answer becomes a problem+json 503 or 504, never a hang or HTML.
 */
export function apiProxy(options: ProxyOptions): RequestHandler {
  const { upstreams, timeoutMs, logger } = options;
  return createProxyMiddleware<IncomingMessage, ServerResponse>({
    router: (req) => upstreams[upstreamFor(req.url ?? '') ?? 'identity'],
    pathFilter: (path) => upstreamFor(path) !== undefined,
    changeOrigin: true,
    xfwd: true,
    on: {
      proxyReq: (proxyReq: ClientRequest, req) => {
        proxyReq.setTimeout(timeoutMs, () => {
          timedOut.add(req);
          proxyReq.destroy(new Error('upstream timeout'));
        });
      },
      error: (err, req, target) => {
        const upstream = upstreamFor(req.url ?? '') ?? 'upstream';
        const problem = upstreamFailure(req, upstream);
        logger.warn({ err, upstream, requestId: req.id, status: problem.status }, 'upstream request failed');
        if (!(target instanceof Object) || !('writeHead' in target)) {
          (target as Socket).destroy();
          return;
        }
        const res = target as ServerResponse;
        if (res.headersSent) {
          res.destroy();
          return;
        }
        res.writeHead(problem.status, { 'Content-Type': PROBLEM_CONTENT_TYPE, ...problem.headers });
        res.end(JSON.stringify(problemBody(problem, req.id)));
      },
    },
  });
}
