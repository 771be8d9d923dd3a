import { Router, type RequestHandler } from 'express';
import type { RouteDoc } from './openapi.ts';
import { idempotency, type IdempotencyStore } from './idempotency.ts';
import { validate } from './validate.ts';

/** A route and its documentation in one entry, so the OpenAPI document cannot drift from the app. */
export interface Route extends RouteDoc {
  handle: RequestHandler;
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
    router[route.method](path, ...(open ? [] : guard), checks, ...once, route.handle);
  }
  return router;
}
