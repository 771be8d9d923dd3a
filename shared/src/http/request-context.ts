import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';

export interface RequestContext {
  requestId: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** The context of the request being served, if any; events take their correlationId from it. */
export function currentRequestContext(): RequestContext | undefined {
  return storage.getStore();
}

export function runWithRequestContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export const REQUEST_ID_HEADER = 'x-request-id';

/** A client-sent id is kept if it is sane, otherwise replaced: ids end up in logs and headers. */
export function requestIdFrom(header: string | string[] | undefined): string {
  const candidate = Array.isArray(header) ? header[0] : header;
  return candidate && CLIENT_REQUEST_ID.test(candidate) ? candidate : randomUUID();
}

declare module 'http' {
  interface IncomingMessage {
    id: string;
  }
}

/** Assigns `req.id`, echoes it as `X-Request-Id` and runs the rest of the request inside its context. */
export function requestId(): RequestHandler {
  return (req, res, next) => {
    req.id = requestIdFrom(req.headers[REQUEST_ID_HEADER]);
    req.headers[REQUEST_ID_HEADER] = req.id;
    res.setHeader('X-Request-Id', req.id);
    runWithRequestContext({ requestId: req.id }, next);
  };
}
