import { Router, type RequestHandler } from 'express';
import type { RouteDoc } from './openapi.ts';
import { idempotency, type IdempotencyStore } from './idempotency.ts';
import { validate } from './validate.ts';

/** A route and its documentation in one entry, so the OpenAPI document cannot drift from the app. */
export interface Route extends RouteDoc {
  handle: RequestHandler;
  /** The query parameter a page's `nextCursor` goes back in (`cursor` unless said). */
  cursorParam?: string;
}

/**
 * api.md §1 pagination: a GET answering `{items, nextCursor}` with a next page also says where it is,
 * `Link: <same path and query, cursor=next>; rel="next"` (a reference relative to the request).
 */
function linkNext(param: string): RequestHandler {
  return (req, res, next) => {
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      const cursor = (body as { nextCursor?: unknown } | null)?.nextCursor;
      if (typeof cursor === 'string' && res.statusCode === 200) {
        const url = new URL(req.originalUrl, 'http://x');
        url.searchParams.set(param, cursor);
        res.append('Link', `<${url.pathname}${url.search}>; rel="next"`);
      }
      return json(body);
    };
    next();
  };
}

/** Whether the route answers pages (`{items, nextCursor}`): only those need `linkNext`. */
function isPaged(route: Route): boolean {
  const schema = route.responses[200]?.schema as { shape?: Record<string, unknown> } | undefined;
  return schema?.shape?.nextCursor !== undefined;
}

/**
 * Mounts a list of routes: the guard (authentication) unless the route says `auth: false`, then
 * `validate` with the route's own schemas, then — for an authenticated POST, when the service keeps
 * keys — `Idempotency-Key` (api.md §1), then its handler.
 */
export function mountRoutes(
  routes: Route[],
  guard: RequestHandler[],
  options: { idempotency?: IdempotencyStore } = {},
): Router {
  const router = Router();
  const keyed = options.idempotency ? idempotency(options.idempotency) : undefined;
  for (const route of routes) {
    const path = route.path.replace(/\{(\w+)\}/g, ':$1');
    const checks = validate({ body: route.body, query: route.query, params: route.params });
    const open = route.auth === false;
    const once = keyed && !open && route.method === 'post' && route.idempotent !== false ? [keyed] : [];
    const pages = route.method === 'get' && isPaged(route) ? [linkNext(route.cursorParam ?? 'cursor')] : [];
    router[route.method](path, ...(open ? [] : guard), checks, ...once, ...pages, route.handle);
  }
  return router;
}
