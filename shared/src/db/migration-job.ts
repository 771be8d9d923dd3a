import type { Logger } from 'pino';
import type { Sequelize } from 'sequelize';
import { z } from 'zod';
import { baseEnvSchema, loadConfig, postgresEnvSchema } from '../config/config.ts';
import { createLogger } from '../logging/logger.ts';
import {
  createSequelize,
  migrate,
  MIGRATIONS_TABLE,
  pendingMigrations,
  withMigrationLock,
  type Migration,
} from './postgres.ts';

/**
 * Migrations run once per rollout, as their own step, with a migration role that owns the schema;
 * the service's replicas run with a runtime role that may read and write rows but change nothing
 * else (architecture.md §7). This is that step: `services/<name>/src/migrate.ts`.
 */
export const migrationJobEnvSchema = z.object({
  /** The migration role's URL: it owns the tables it creates. */
  ...postgresEnvSchema.shape,
  /**
   * The role the service runs as, created by the operator (LOGIN, a password). When set, the step
   * grants it what the service needs and nothing more; unset, grants are left to the operator.
   */
  DATABASE_RUNTIME_ROLE: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a role name: lower-case letters, digits and _, at most 63')
      .optional(),
  ),
  LOG_LEVEL: baseEnvSchema.shape.LOG_LEVEL,
});

export type MigrationJobConfig = z.infer<typeof migrationJobEnvSchema>;

/** Thrown when the migration step cannot do its work (not by a failing migration: umzug's own error). */
export class MigrationJobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationJobError';
  }
}

/** How to run `service`'s migration step, wherever it runs: what the start-up refusal names. */
export function migrationStep(service: string): string {
  return (
    `npm run migrate -w @trellis/${service} with DATABASE_URL set to the migration role's URL ` +
    `(npm start and the test suites do it themselves), the Kubernetes Job ${service}-migrate, ` +
    `or docker compose's ${service}-migrate`
  );
}

const quote = (sequelize: Sequelize, name: string) => sequelize.getQueryInterface().quoteIdentifier(name);

/**
 * Gives `role` what a service needs in this database and nothing more: connect, use schema public,
 * read and write the rows of every table (only read `schema_migrations`), use the sequences — also
 * on tables and sequences later migrations create, as long as the same role runs them. Idempotent.
 */
export async function grantRuntimeRole(sequelize: Sequelize, role: string, logger: Logger): Promise<void> {
  const [[found]] = (await sequelize.query(
    `SELECT current_user AS migrator, current_database() AS database, r.rolsuper AS superuser
       FROM (SELECT 1) one LEFT JOIN pg_roles r ON r.rolname = :role`,
    { replacements: { role } },
  )) as [Array<{ migrator: string; database: string; superuser: boolean | null }>, unknown];
  if (!found || found.superuser === null)
    throw new MigrationJobError(
      `the runtime role ${role} does not exist: create it first (CREATE ROLE ${role} LOGIN PASSWORD '…')`,
    );
  if (found.migrator === role)
    throw new MigrationJobError(
      `DATABASE_RUNTIME_ROLE is the migration role itself (${role}): the service needs a role of its own, without DDL rights`,
    );
  if (found.superuser) logger.warn({ role }, 'the runtime role is a superuser: grants cannot restrict it');
  const grantee = quote(sequelize, role);
  const statements = [
    `GRANT CONNECT ON DATABASE ${quote(sequelize, found.database)} TO ${grantee}`,
    `GRANT USAGE ON SCHEMA public TO ${grantee}`,
    `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${grantee}`,
    `GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${grantee}`,
    `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${grantee}`,
    `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO ${grantee}`,
    // The service reads what has run (its start-up check); only the migration step records it.
    `REVOKE INSERT, UPDATE, DELETE ON ${MIGRATIONS_TABLE} FROM ${grantee}`,
    // PostgreSQL 14 and older let every role create tables in public (15 no longer does).
    'REVOKE CREATE ON SCHEMA public FROM PUBLIC',
  ];
  await sequelize.transaction(async (transaction) => {
    for (const sql of statements) await sequelize.query(sql, { transaction });
  });
}

/** The database a URL names, for messages (the URL itself holds a password). */
function databaseOf(url: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\/[^/?]*\/([^?]+)/i.exec(url)?.[1] ?? '(default database)';
}

/**
 * The migration step: applies the pending migrations as the migration role (`DATABASE_URL`), then,
 * with `DATABASE_RUNTIME_ROLE`, grants the runtime role. Resolves with the process's exit code: 0
 * done, 1 failed (said in the log; nothing after a failed migration ran, so run it again once fixed).
 */
export async function runMigrationJob(options: {
  service: string;
  migrations: Migration[];
  env?: NodeJS.ProcessEnv;
}): Promise<number> {
  const { service, migrations } = options;
  let config: MigrationJobConfig;
  try {
    config = loadConfig(migrationJobEnvSchema, options.env ?? process.env);
  } catch (error) {
    console.error(`${service} migrate: ${(error as Error).message}`);
    return 1;
  }
  const logger = createLogger(`${service}-migrate`, config.LOG_LEVEL);
  const database = databaseOf(config.DATABASE_URL);
  const role = config.DATABASE_RUNTIME_ROLE;
  const sequelize = createSequelize(config.DATABASE_URL, logger);
  try {
    const applied = await migrate(sequelize, migrations, logger);
    if (role) await withMigrationLock(sequelize, logger, () => grantRuntimeRole(sequelize, role, logger));
    logger.info(
      { database, applied, runtimeRole: role ?? null },
      applied.length > 0 ? `${database} migrated` : `${database} was up to date`,
    );
    return 0;
  } catch (err) {
    logger.fatal({ err, database }, `migrating ${database} failed: ${(err as Error).message}`);
    return 1;
  } finally {
    await sequelize.close().catch(() => undefined);
  }
}

/** A service found its database behind its code: it does not start (it has no rights to migrate). */
export class PendingMigrationsError extends Error {
  readonly database: string;
  readonly pending: string[];
  constructor(service: string, database: string, pending: string[], never: boolean) {
    const state = never ? 'has never been migrated' : `is ${pending.length} migration(s) behind`;
    super(
      `${service} will not start: database "${database}" ${state} (pending: ${pending.join(', ')}). ` +
        `Services do not migrate at start-up; run the migration step first: ${migrationStep(service)}.`,
    );
    this.name = 'PendingMigrationsError';
    this.database = database;
    this.pending = pending;
  }
}

/**
 * The start-up check: throws PendingMigrationsError unless every migration the service knows has
 * run. Migrations applied beyond its list are fine (a newer version's, during a rolling update).
 * Warns when the service could change the schema: it should run as the runtime role.
 */
export async function requireMigrated(options: {
  service: string;
  sequelize: Sequelize;
  migrations: Migration[];
  logger: Logger;
}): Promise<void> {
  const { service, sequelize, migrations, logger } = options;
  const pending = await pendingMigrations(sequelize, migrations);
  const [[state]] = (await sequelize.query(
    `SELECT current_database() AS database, has_schema_privilege('public', 'CREATE') AS ddl`,
  )) as [Array<{ database: string; ddl: boolean }>, unknown];
  const database = state?.database ?? '?';
  if (pending.length > 0)
    throw new PendingMigrationsError(service, database, pending, pending.length === migrations.length);
  if (state?.ddl)
    logger.warn(
      { database },
      'connected as a role that may change the schema: run the service as the runtime role (see "Migrations" in its README)',
    );
}

/**
 * A service's PostgreSQL connection at start-up: connected, and checked by `requireMigrated`; on a
 * refusal the pending migrations are logged (fatal), the pool closed and the error thrown.
 */
export async function openMigratedDatabase(options: {
  service: string;
  url: string;
  migrations: Migration[];
  logger: Logger;
}): Promise<Sequelize> {
  const { service, url, migrations, logger } = options;
  const sequelize = createSequelize(url, logger);
  try {
    await sequelize.authenticate();
    await requireMigrated({ service, sequelize, migrations, logger });
    return sequelize;
  } catch (err) {
    if (err instanceof PendingMigrationsError)
      logger.fatal({ database: err.database, pending: err.pending }, err.message);
    await sequelize.close();
    throw err;
  }
}
