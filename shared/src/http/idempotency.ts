import { createHash } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { currentUser } from '../auth/access-token.ts';
import { AppError, errors } from './errors.ts';

/** A stored answer to a request sent with an `Idempotency-Key` (null status: still running). */
export interface IdempotencyRecord {
  fingerprint: string;
  status: number | null;
  headers: Record<string, string>;
  body: string | null;
  createdAt: Date;
}

/** Where a service keeps its keys: its own database (api.md §1). */
export interface IdempotencyStore {
  /** Inserts a running record for (caller, key) made at `at`; false when one is there already. */
  claim(callerId: string, key: string, fingerprint: string, at: Date): Promise<boolean>;
  find(callerId: string, key: string): Promise<IdempotencyRecord | null>;
  /** Stores the answer on the record made at `at` (not on one that replaced it meanwhile). */
  complete(
    callerId: string,
    key: string,
    at: Date,
    answer: Omit<IdempotencyRecord, 'fingerprint' | 'createdAt'>,
  ): Promise<void>;
  /**
   * Drops the record made at `at` (a 5xx, a running one that outlived `RUNNING_STALE_MS`, an expired
   * one) — not one that replaced it meanwhile.
   */
  release(callerId: string, key: string, at: Date): Promise<void>;
  /** Drops records created before `before`. */
  expire(before: Date): Promise<void>;
}

/** How long an answer is kept (api.md §1: 24 h). */
export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;
/** A record still running after this long was left by a process that died: the key is free again. */
const RUNNING_STALE_MS = 60_000;
const MAX_KEY_LENGTH = 255;
/** Response headers a replay repeats (besides the status and the body). */
const REPLAYED_HEADERS = ['content-type', 'location', 'etag', 'link'];

/** JSON with object keys sorted, so the same body always gives the same fingerprint. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value) ?? 'null';
}

function fingerprintOf(req: Request): string {
  return createHash('sha256')
    .update(`${req.method} ${req.originalUrl}\n${canonical(req.body ?? null)}`)
    .digest('base64url');
}

function replay(res: Response, record: IdempotencyRecord): void {
  for (const [name, value] of Object.entries(record.headers)) res.setHeader(name, value);
  res.setHeader('Idempotency-Replayed', 'true');
  res.status(record.status ?? 200);
  if (record.body === null) res.end();
  else res.end(record.body);
}

/**
 * `Idempotency-Key` on a POST (api.md §1), per caller: the first request runs and its answer (status,
 * body, Location, ETag) is stored before it is sent; the same key with the same method, path and body
 * answers it again with `Idempotency-Replayed: true`; with another request → 422
 * `IDEMPOTENCY_KEY_REUSED`; while the first still runs → 409 `IDEMPOTENCY_IN_PROGRESS`. A 5xx is
 * not kept (the key may be tried again). Answers are kept 24 h.
 *
 * The record and the write it guards are two transactions: a process that dies between the write's
 * commit and the answer's record leaves the key running; after a minute it is free again, and a
 * retry then runs the request a second time.
 */
export function idempotency(store: IdempotencyStore): RequestHandler {
  let lastSweep = 0;
  return async (req, res, next) => {
    const key = req.get('idempotency-key');
    if (key === undefined || req.method !== 'POST') return next();
    if (key.length === 0 || key.length > MAX_KEY_LENGTH)
      throw errors.validation([
        { path: 'header.Idempotency-Key', message: `1 to ${MAX_KEY_LENGTH} characters` },
      ]);
    const callerId = currentUser(req).id;
    const fingerprint = fingerprintOf(req);
    if (Date.now() - lastSweep > 600_000) {
      lastSweep = Date.now();
      void store.expire(new Date(Date.now() - IDEMPOTENCY_TTL_MS)).catch(() => undefined);
    }
    let claimedAt = new Date();
    for (let attempt = 0; !(await store.claim(callerId, key, fingerprint, claimedAt)); attempt += 1) {
      const record = await store.find(callerId, key);
      if (record) {
        const age = Date.now() - record.createdAt.getTime();
        const stale = age > IDEMPOTENCY_TTL_MS || (record.status === null && age > RUNNING_STALE_MS);
        if (!stale) {
          if (record.fingerprint !== fingerprint)
            throw new AppError(422, 'IDEMPOTENCY_KEY_REUSED', {
              detail: 'This Idempotency-Key was used for another request; use a new key.',
            });
          if (record.status === null)
            throw new AppError(409, 'IDEMPOTENCY_IN_PROGRESS', {
              detail: 'A request with this Idempotency-Key is still running; retry in a moment.',
              headers: { 'Retry-After': '1' },
            });
          replay(res, record);
          return;
        }
        await store.release(callerId, key, record.createdAt);
      }
      if (attempt >= 2) throw errors.conflict('The Idempotency-Key is contended; retry in a moment.');
      claimedAt = new Date();
    }
    capture(res, async (answer) => {
      if (answer.status >= 500) await store.release(callerId, key, claimedAt);
      else await store.complete(callerId, key, claimedAt, answer);
    });
    next();
  };
}

/** Holds the response's last write until `keep` has stored the answer (so a retry finds it). */
function capture(
  res: Response,
  keep: (answer: { status: number; headers: Record<string, string>; body: string | null }) => Promise<void>,
): void {
  const end = res.end.bind(res) as (...args: unknown[]) => Response;
  res.end = ((...args: unknown[]) => {
    const [chunk, encoding] = args;
    const body =
      chunk === undefined || typeof chunk === 'function'
        ? null
        : Buffer.isBuffer(chunk)
          ? chunk.toString('utf8')
          : String(chunk);
    const headers: Record<string, string> = {};
    for (const name of REPLAYED_HEADERS) {
      const value = res.getHeader(name);
      if (value !== undefined) headers[name] = String(value);
    }
    void keep({ status: res.statusCode, headers, body })
      .catch(() => undefined)
      .finally(() => end(...(typeof encoding === 'string' ? [chunk, encoding] : [chunk])));
    return res;
  }) as Response['end'];
}
