import {
  idempotencyMigration,
  outboxInboxMigration,
  outboxTraceContextMigration,
  type Migration,
} from '@trellis/shared';
import { workMigration } from './0001-work.ts';
import { sprintsMigration } from './0002-sprints.ts';
import { listFilterColumnsMigration } from './0003-list-filter-columns.ts';

/** Forward-only, in order. Never edit a migration that has shipped; add a new one. */
export const migrations: Migration[] = [
  outboxInboxMigration,
  workMigration,
  sprintsMigration,
  listFilterColumnsMigration,
  idempotencyMigration,
  outboxTraceContextMigration,
];
