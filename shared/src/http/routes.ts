import { Router, type RequestHandler } from 'express';
import type { RouteDoc } from './openapi.ts';
import { validate } from './validate.ts';

/** A route and its documentation in one entry, so the OpenAPI document cannot drift from the app. */
export interface Route extends RouteDoc {
  handle: RequestHandler;
}

/**
 * Mounts a list of routes: the guard (authentication) unless the route says `auth: false`, then
 * `validate` with the route's own schemas, then its handler.
 */
export function mountRoutes(routes: Route[], guard: RequestHandler[]): Router {
  const router = Router();
  for (const route of routes) {
    const path = route.path.replace(/\{(\w+)\}/g, ':$1');
    const checks = validate({ body: route.body, query: route.query, params: route.params });
    router[route.method](path, ...(route.auth === false ? [] : guard), checks, route.handle);
  }
  return router;
}
