import { Sequelize } from 'sequelize';
import { SequelizeStorage, Umzug } from 'umzug';
import type { Logger } from 'pino';

export function createSequelize(url: string, logger: Logger): Sequelize {
  return new Sequelize(url, {
    dialect: 'postgres',
    logging: (sql) => logger.trace({ sql }, 'sql'),
    pool: { max: 10, min: 0, idle: 10_000, acquire: 10_000 },
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

/** Runs pending migrations in order, recording them in `schema_migrations`. Safe to call on every start. */
export async function migrate(
  sequelize: Sequelize,
  migrations: Migration[],
  logger: Logger,
): Promise<string[]> {
  const umzug = new Umzug<MigrationContext>({
    migrations: migrations.map((m) => ({ name: m.name, up: ({ context }) => m.up(context) })),
    context: { sequelize },
    storage: new SequelizeStorage({ sequelize, tableName: 'schema_migrations' }),
    logger: undefined,
  });
  // Replicas starting together must not run the same migration twice.
  const lockKey = 7_243_001;
  const applied = await sequelize.transaction(async (transaction) => {
    await sequelize.query('SELECT pg_advisory_xact_lock(:lockKey)', {
      replacements: { lockKey },
      transaction,
    });
    return umzug.up();
  });
  const names = applied.map((m) => m.name);
  if (names.length) logger.info({ migrations: names }, 'migrations applied');
  return names;
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
