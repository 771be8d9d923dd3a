import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from 'pg';
import type { Logger } from 'pino';
import { Sequelize } from 'sequelize';
import { SequelizeStorage, Umzug } from 'umzug';

export function createSequelize(url: string, logger: Logger): Sequelize {
  return new Sequelize(url, {
    dialect: 'postgres',
    logging: (sql) => logger.trace({ sql }, 'sql'),
    // A connection idle for a minute is closed, not after 10 s (the default): under steady load the
    // pool's bursts outgrew what it kept, so it kept closing connections and opening new ones, and
    // each new one cost a backend start and the planning of every prepared statement again.
    pool: { max: 10, min: 0, idle: 60_000, acquire: 10_000 },
    define: { underscored: true, timestamps: true },
  });
}

export interface MigrationContext {
  sequelize: Sequelize;
}

/** Forward-only migrations: each has a stable, ordered name and an `up`. */
export interface Migration {
  name: string;
  up: (context: MigrationContext) => Promise<void>;
}

/** Migrations of every service serialise on this key, in their own database. */
const MIGRATION_LOCK_KEY = 7_243_001;
const LOCK_POLL_MS = 200;

/** Where umzug records what has run: one row per applied migration, by name. */
export const MIGRATIONS_TABLE = 'schema_migrations';

/**
 * Runs pending migrations in order, recording them in `schema_migrations`. Run by the migration step
 * (`runMigrationJob`) as the migration role, never by a service at start-up; safe when several run at
 * once (a retried Job beside the first): one runs them while the others wait for it.
 *
 * Migrations themselves run outside any transaction, statement by statement (a multi-statement
 * query is one implicit transaction), so they may build indexes CONCURRENTLY.
 */
export async function migrate(
  sequelize: Sequelize,
  migrations: Migration[],
  logger: Logger,
): Promise<string[]> {
  const umzug = new Umzug<MigrationContext>({
    migrations: migrations.map((m) => ({ name: m.name, up: ({ context }) => m.up(context) })),
    context: { sequelize },
    storage: new SequelizeStorage({ sequelize, tableName: MIGRATIONS_TABLE }),
    logger: undefined,
  });
  return withMigrationLock(sequelize, logger, async () => {
    const names = (await umzug.up()).map((m) => m.name);
    if (names.length) logger.info({ migrations: names }, 'migrations applied');
    return names;
  });
}

/**
 * Runs `work` while holding the database's migration lock, so migrations and grants never run
 * twice at once.
 *
 * The lock is a session advisory lock on a connection of its own, and a waiting caller polls for
 * it (`pg_try_advisory_lock`) instead of blocking in a statement. A blocked statement holds a
 * snapshot, and `CREATE INDEX CONCURRENTLY` in the running migration waits for every older
 * snapshot: a blocking wait made two migrators starting together wait for each other forever.
 */
export async function withMigrationLock<T>(
  sequelize: Sequelize,
  logger: Logger,
  work: () => Promise<T>,
): Promise<T> {
  const { connectionManager } = sequelize;
  const connection = (await connectionManager.getConnection({ type: 'write' })) as Client;
  let locked = false;
  try {
    for (let waited = false; ; waited = true) {
      const { rows } = await connection.query('SELECT pg_try_advisory_lock($1) AS locked', [
        MIGRATION_LOCK_KEY,
      ]);
      locked = rows[0]?.locked === true;
      if (locked) break;
      if (!waited) logger.info('waiting for another migrator to finish');
      await sleep(LOCK_POLL_MS);
    }
    return await work();
  } finally {
    // Unlocked, the connection goes back to the pool. If the unlock fails (or an error left the lock
    // unconfirmed) the connection is closed instead: that ends the session, and its lock with it.
    const unlocked =
      locked &&
      (await connection.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).then(
        () => true,
        (err: unknown) => {
          logger.warn({ err }, 'could not release the migration lock; closing its connection');
          return false;
        },
      ));
    if (unlocked) connectionManager.releaseConnection(connection);
    else await connectionManager.destroyConnection(connection);
  }
}

/**
 * The migrations of `migrations` not recorded in `schema_migrations` (all of them when the table is
 * missing), in order. Reads only: a runtime role without DDL rights can ask.
 */
export async function pendingMigrations(sequelize: Sequelize, migrations: Migration[]): Promise<string[]> {
  const [[table]] = (await sequelize.query('SELECT to_regclass(:table) AS found', {
    replacements: { table: MIGRATIONS_TABLE },
  })) as [Array<{ found: string | null }>, unknown];
  if (!table?.found) return migrations.map((m) => m.name);
  const [rows] = (await sequelize.query(`SELECT name FROM ${MIGRATIONS_TABLE}`)) as [
    Array<{ name: string }>,
    unknown,
  ];
  const applied = new Set(rows.map((row) => row.name));
  return migrations.map((m) => m.name).filter((name) => !applied.has(name));
}

/** The outbox and inbox tables every PostgreSQL service needs; include it first in its migration list. */
export const outboxInboxMigration: Migration = {
  name: '0000-outbox-inbox',
  up: async ({ sequelize }) => {
    await sequelize.query(`
      CREATE TABLE IF NOT EXISTS outbox (
        seq          bigserial PRIMARY KEY,
        id           uuid NOT NULL UNIQUE,
        topic        text NOT NULL,
        key          text NOT NULL,
        envelope     jsonb NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz,
        attempts     integer NOT NULL DEFAULT 0,
        last_error   text
      );
      CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;
      CREATE TABLE IF NOT EXISTS inbox (
        consumer     text NOT NULL,
        event_id     uuid NOT NULL,
        processed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer, event_id)
      );
    `);
  },
};

/** Each outbox row keeps the trace context it was written in, for the relay's spans (architecture.md §8). */
export const outboxTraceContextMigration: Migration = {
  name: '0000-outbox-trace-context',
  up: async ({ sequelize }) => {
    await sequelize.query('ALTER TABLE outbox ADD COLUMN IF NOT EXISTS trace_context jsonb');
  },
};
