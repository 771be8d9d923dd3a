import type { Store } from 'express-rate-limit';
import type { Registry } from 'prom-client';
import {
  ConfigError,
  openMigratedDatabase,
  type Logger,
  type ReadinessCheck,
  type ShutdownStep,
} from '@trellis/shared';
import type { Config } from '../config.ts';
import { migrations } from '../migrations/index.ts';
import { callerLimit } from './limits.ts';
import { SharedRateLimitStore } from './shared-store.ts';

export interface RateLimitStore {
  /** For `apiRateLimit`; undefined: express-rate-limit's MemoryStore, in this process. */
  store: Store | undefined;
  /** PostgreSQL, not critical: a replica that cannot reach it counts alone (README). */
  readiness: ReadinessCheck[];
  stopSteps: ShutdownStep[];
}

/**
 * The store `RATE_LIMIT_STORE` names. `postgres`: connects DATABASE_URL (the runtime role) and checks,
 * like every PostgreSQL service at start, that the migration step (`src/migrate.ts`) has created the
 * `rate_limit` table: with a migration pending, or the database out of reach, the gateway does not
 * start. A running gateway that loses the database falls back instead (`SharedRateLimitStore`).
 */
export async function openRateLimitStore(
  config: Pick<Config, 'RATE_LIMIT_STORE' | 'DATABASE_URL' | 'RATE_LIMIT_PER_USER' | 'RATE_LIMIT_PER_IP'>,
  logger: Logger,
  registry: Registry,
): Promise<RateLimitStore> {
  if (config.RATE_LIMIT_STORE === 'memory') return { store: undefined, readiness: [], stopSteps: [] };
  // readConfig refuses this already; a shared store is never quietly downgraded to a local one.
  if (config.DATABASE_URL === undefined)
    throw new ConfigError(['DATABASE_URL: required when RATE_LIMIT_STORE=postgres']);
  const sequelize = await openMigratedDatabase({
    service: 'gateway',
    url: config.DATABASE_URL,
    migrations,
    logger,
  });
  const store = new SharedRateLimitStore({
    sequelize,
    limitFor: callerLimit({ perUser: config.RATE_LIMIT_PER_USER, perIp: config.RATE_LIMIT_PER_IP }),
    logger,
    registry,
  });
  return {
    store,
    readiness: [{ name: 'postgres', check: () => sequelize.query('SELECT 1'), critical: false }],
    stopSteps: [
      { name: 'rate-limit store', run: async () => store.shutdown() },
      { name: 'postgres', run: () => sequelize.close() },
    ],
  };
}
