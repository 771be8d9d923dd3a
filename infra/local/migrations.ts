// The migration step of `npm start` and the tests' suites, as a deployment runs it (its Kubernetes
// Job, compose's `<name>-migrate`): each PostgreSQL service's `src/migrate.ts` once, as a process of
// its own, as the database's owner; the services then connect as the runtime role, which may read and
// write rows but not change the schema (architecture.md §7).
import { join } from 'node:path';

import {
  asRuntimeRole,
  ensureRuntimeRole,
  LOCAL_RUNTIME_ROLE,
} from '../../shared/src/testing/runtime-role.ts';
import { paths, redact } from './config.ts';
import { UserError } from './log.ts';
import { run } from './proc.ts';

export { asRuntimeRole, LOCAL_RUNTIME_ROLE };

export interface MigrationTarget {
  /** A PostgreSQL service (identity, governance, work, gateway): its `services/<service>/src/migrate.ts` runs. */
  service: string;
  /** Its database as the owner (the migration role). */
  ownerUrl: string;
}

/**
 * Creates the runtime role if missing (with `adminUrl`, which needs CREATEROLE), then migrates every
 * target's database and grants the role its rows, all at once. Throws with the failing step's last
 * lines.
 */
export async function migrateServiceDatabases(adminUrl: string, targets: MigrationTarget[]): Promise<void> {
  try {
    await ensureRuntimeRole(adminUrl);
  } catch (error) {
    throw new UserError(
      `cannot create the runtime role ${LOCAL_RUNTIME_ROLE.name} as ${redact(adminUrl)} (it needs CREATEROLE): ${(error as Error).message}`,
    );
  }
  await Promise.all(targets.map(migrateOne));
}

async function migrateOne({ service, ownerUrl }: MigrationTarget): Promise<void> {
  const lines: string[] = [];
  const code = await run(process.execPath, ['src/migrate.ts'], {
    cwd: join(paths.repo, 'services', service),
    env: {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: ownerUrl,
      DATABASE_RUNTIME_ROLE: LOCAL_RUNTIME_ROLE.name,
      LOG_LEVEL: 'info',
    },
    onLine: (line) => lines.push(line),
  });
  if (code !== 0)
    throw new UserError(
      `${service}: the migration step failed (exit ${code}); its last lines:\n${lines
        .slice(-20)
        .map((line) => `  │ ${line}`)
        .join('\n')}`,
    );
}
