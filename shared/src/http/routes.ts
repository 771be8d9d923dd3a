import { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { z, ZodType } from 'zod';
import type { RouteDoc } from './openapi.ts';
import { idempotency, type IdempotencyStore } from './idempotency.ts';
import { AppError } from './errors.ts';
import { validate } from './validate.ts';

/** A route and its documentation in one entry, so the OpenAPI document cannot drift from the app. */
export interface Route extends RouteDoc {
  handle: RequestHandler;
  /** The query parameter a page's `nextCursor` goes back in (`cursor` unless said). */
  cursorParam?: string;
}

/** What a schema gives its handler once `validate` has parsed the input (nothing declared: nothing). */
type Parsed<S> = S extends ZodType ? z.output<S> : Record<string, never>;

/**
 * A request whose params, query and body are the parsed output of the route's own schemas (still an
 * express Request, so helpers that take one take it).
 */
export type ParsedRequest<P, Q, B> = Request & { params: Parsed<P>; query: Parsed<Q>; body: Parsed<B> };

/**
 * Declares a route whose handler is typed from its schemas: one declaration gives validation, the
 * handler's types and the OpenAPI document, so no handler casts `req.body`, `req.query` or `req.params`.
 */
export function route<
  P extends ZodType | undefined = undefined,
  Q extends ZodType | undefined = undefined,
  B extends ZodType | undefined = undefined,
>(
  definition: Omit<Route, 'params' | 'query' | 'body' | 'handle'> & {
    params?: P;
    query?: Q;
    body?: B;
    handle: (req: ParsedRequest<P, Q, B>, res: Response, next: NextFunction) => unknown;
  },
): Route {
  return definition as unknown as Route;
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
  // First: a path asked with a method none of its routes answers is a 405, whether the path is
  // literal (`/tasks/lookup`) or a parameterised sibling's (`/tasks/{id}`) would take it.
  router.use(methodNotAllowed(routes));
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

/**
 * A path the API has, asked with a method it does not answer: 405 with `Allow` (RFC 9110), not the
 * 404 of a path that does not exist, nor the 400 of a sibling route's parameter. The methods are
 * those of the routes whose path matches with the fewest parameters (HEAD wherever GET is).
 * OPTIONS goes on (CORS, express).
 */
function methodNotAllowed(routes: Route[]): RequestHandler {
  const table = new Map<string, { pattern: RegExp; parameters: number; methods: Set<string> }>();
  for (const route of routes) {
    const entry = table.get(route.path) ?? {
      pattern: new RegExp(`^${route.path.replace(/\{\w+\}/g, '[^/]+')}/?$`),
      parameters: route.path.match(/\{\w+\}/g)?.length ?? 0,
      methods: new Set<string>(),
    };
    entry.methods.add(route.method.toUpperCase());
    if (route.method === 'get') entry.methods.add('HEAD');
    table.set(route.path, entry);
  }
  const entries = [...table.values()];
  return (req, res, next) => {
    if (req.method === 'OPTIONS') return next();
    const candidates = entries.filter((entry) => entry.pattern.test(req.path));
    // The most literal paths win: `/tasks/lookup` is that resource, not a task whose id is "lookup".
    const fewest = Math.min(...candidates.map((entry) => entry.parameters));
    const matching = candidates.filter((entry) => entry.parameters === fewest);
    if (matching.length === 0 || matching.some((entry) => entry.methods.has(req.method))) return next();
    const allow = [...new Set(matching.flatMap((entry) => [...entry.methods]))].sort().join(', ');
    res.set('Allow', allow);
    next(
      new AppError(405, 'METHOD_NOT_ALLOWED', { detail: `${req.method} is not allowed here; use ${allow}.` }),
    );
  };
}
