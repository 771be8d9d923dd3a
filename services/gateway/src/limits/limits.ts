import type { RequestHandler } from 'express';
import { rateLimit, ipKeyGenerator, type Store } from 'express-rate-limit';
import { AppError } from '@trellis/shared';

/**
 * The gateway parses no bodies, so it enforces the size from Content-Length; a chunked body of
 * unknown length is bounded again by the service's own parser limit.
 */
export function bodySizeLimit(maxBytes: number): RequestHandler {
  return (req, _res, next) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > maxBytes) {
      throw new AppError(413, 'PAYLOAD_TOO_LARGE', { detail: `The body must be at most ${maxBytes} bytes.` });
    }
    next();
  };
}

/**
 * Who is calling, for per-caller budgets: the user when a verified token is present, else the client
 * address the gateway decided (an IPv6 client by its /56, as it could pick any address within it).
 */
export function callerKey(req: { user?: { id: string }; ip?: string }): string {
  return req.user ? `user:${req.user.id}` : `ip:${ipKeyGenerator(req.ip ?? 'unknown')}`;
}

export interface CallerLimits {
  perUser: number;
  perIp: number;
}

/** A `callerKey`'s budget per window: a store is told the key, not the limit. */
export function callerLimit(limits: CallerLimits): (key: string) => number {
  return (key) => (key.startsWith('user:') ? limits.perUser : limits.perIp);
}

/**
 * Fixed one-minute windows, keyed by user when a verified token is present and by client IP
 * otherwise; answers carry `RateLimit-*` headers (IETF draft 6) and 429s carry `Retry-After`.
 * Without a `store` the counters live in this process (express-rate-limit's MemoryStore): with
 * several gateway replicas each would enforce its own share, hence `SharedRateLimitStore`.
 */
export function apiRateLimit(limits: CallerLimits, store?: Store): RequestHandler {
  return rateLimit({
    windowMs: 60_000,
    // What `callerLimit` says of `callerKey(req)`, without building the key twice.
    limit: (req) => (req.user ? limits.perUser : limits.perIp),
    keyGenerator: callerKey,
    ...(store ? { store } : {}),
    standardHeaders: 'draft-6',
    legacyHeaders: false,
    skip: (req) => !req.path.startsWith('/api/v1/'),
    handler: (_req, res, next, options) => {
      const resetTime = (_req as unknown as { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const seconds = resetTime ? Math.max(1, Math.ceil((resetTime.getTime() - Date.now()) / 1000)) : 60;
      next(
        new AppError(options.statusCode, 'RATE_LIMITED', {
          detail: `Too many requests; retry in ${seconds} s.`,
          headers: { 'Retry-After': String(seconds) },
        }),
      );
    },
  });
}
