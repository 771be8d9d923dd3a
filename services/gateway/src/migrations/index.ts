import type { Migration } from '@trellis/shared';
import { rateLimitMigration } from './0001-rate-limit.ts';

/**
 * Forward-only, in order. Never edit a migration that has shipped; add a new one. Only needed with
 * `RATE_LIMIT_STORE=postgres`: the gateway has no database otherwise.
 */
export const migrations: Migration[] = [rateLimitMigration];
