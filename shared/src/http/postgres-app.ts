import type { Express, RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { Sequelize } from 'sequelize';
import type { RevocationCheck } from '../auth/access-token.ts';
import { postgresIdempotencyStore } from '../db/idempotency-stores.ts';
import type { PgOutbox } from '../events/pg-outbox.ts';
import type { Metrics } from './metrics.ts';
import { mountRoutes, type Route } from './routes.ts';
import { createServiceApp, type ReadinessCheck } from './service-app.ts';

// How a PostgreSQL service (identity, governance, work) composes its HTTP app: one place for what
// the three had each written out.

/** What every PostgreSQL service's app is built from; each service adds its own. */
export interface PostgresAppDeps {
  logger: Logger;
  readiness: ReadinessCheck[];
  /** The registry `/metrics` serves: the runtime's, with its bus and outbox metrics (new when absent). */
  metrics?: Metrics;
  sequelize: Sequelize;
  outbox: PgOutbox;
  /** Access tokens revoked before they expire (the runtime's `RevocationList`). */
  isRevoked: RevocationCheck;
}

/**
 * The service's app: health, metrics and its OpenAPI document (createServiceApp), its routes behind
 * `guard` with Idempotency-Key records in its own database (api.md §1), then its cluster-only routes
 * (mounted, never documented: see each service's internal.routes.ts).
 */
export function postgresServiceApp(input: {
  service: string;
  deps: PostgresAppDeps;
  routes: Route[];
  guard: RequestHandler[];
  internal?: Route[];
}): Express {
  const { deps, routes, guard } = input;
  const { app, finish } = createServiceApp({
    service: input.service,
    logger: deps.logger,
    readiness: deps.readiness,
    metrics: deps.metrics,
    routes,
  });
  app.use(mountRoutes(routes, guard, { idempotency: postgresIdempotencyStore(deps.sequelize) }));
  if (input.internal) app.use(mountRoutes(input.internal, guard));
  return finish();
}
