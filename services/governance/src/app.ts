import type { Express } from 'express';
import { createServiceApp, type Logger, type ReadinessCheck } from '@trellis/shared';

export interface AppDeps {
  logger: Logger;
  readiness: ReadinessCheck[];
}

/** The governance HTTP app; no I/O happens here, so tests can build it around their own connections. */
export function buildApp(deps: AppDeps): Express {
  const { finish } = createServiceApp({
    service: 'governance',
    logger: deps.logger,
    readiness: deps.readiness,
  });
  return finish();
}
