import {
  idempotencyMigration,
  outboxInboxMigration,
  outboxTraceContextMigration,
  type Migration,
} from '@trellis/shared';
import { governanceMigration } from './0001-governance.ts';
import { auditMigration } from './0002-audit.ts';
import { invitationsApprovalsMigration } from './0003-invitations-approvals.ts';

/** Forward-only, in order. Never edit a migration that has shipped; add a new one. */
export const migrations: Migration[] = [
  outboxInboxMigration,
  governanceMigration,
  auditMigration,
  invitationsApprovalsMigration,
  idempotencyMigration,
  outboxTraceContextMigration,
];
