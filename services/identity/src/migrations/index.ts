import {
  idempotencyMigration,
  outboxInboxMigration,
  outboxTraceContextMigration,
  type Migration,
} from '@trellis/shared';
import { identityMigration } from './0001-identity.ts';
import { loginThrottleMigration } from './0002-login-throttle.ts';

/** Forward-only, in order. Never edit a migration that has shipped; add a new one. */
export const migrations: Migration[] = [
  outboxInboxMigration,
  identityMigration,
  loginThrottleMigration,
  idempotencyMigration,
  outboxTraceContextMigration,
];
