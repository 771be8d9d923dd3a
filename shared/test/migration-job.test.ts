// Migrations run once per rollout as their own step with the migration role; services run as a
// role without DDL rights and refuse to start on a database behind their code (architecture.md §7).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import {
  createSequelize,
  migrate,
  outboxInboxMigration,
  outboxTraceContextMigration,
  PendingMigrationsError,
  runMigrationJob,
  startPostgresRuntime,
  type Migration,
} from '../src/index.ts';
import {
  asRuntimeRole,
  createTestDatabase,
  ensureRuntimeRole,
  LOCAL_RUNTIME_ROLE,
  stack,
  testKafka,
  testLogger,
  type TestDatabase,
} from '../src/testing/index.ts';

const logger = testLogger('migration-job-test');
const SERVICE = 'probe';

/** What every PostgreSQL service has (its runtime starts the outbox relay), then tables of its own. */
const migrations: Migration[] = [
  outboxInboxMigration,
  outboxTraceContextMigration,
  {
    name: '0001-items',
    up: async ({ sequelize }) => {
      await sequelize.query('CREATE TABLE items (id bigserial PRIMARY KEY, label text NOT NULL)');
    },
  },
  {
    name: '0002-notes',
    up: async ({ sequelize }) => {
      await sequelize.query('CREATE TABLE notes (item_id bigint NOT NULL REFERENCES items, body text)');
    },
  },
];

/** The service's start-up, as `main.ts` runs it. */
function startService(url: string, list: Migration[] = migrations) {
  const kafka = testKafka('migration-job');
  return startPostgresRuntime({
    service: SERVICE,
    logger,
    migrations: list,
    config: {
      DATABASE_URL: url,
      KAFKA_BROKERS: kafka.brokers,
      KAFKA_TOPIC_PREFIX: kafka.topicPrefix,
      KAFKA_TOPIC_PARTITIONS: kafka.partitions,
    },
  });
}

/** `services/<name>/src/migrate.ts`, in-process: resolves with its exit code. */
const migrationStep = (db: TestDatabase, list: Migration[], role: string = LOCAL_RUNTIME_ROLE.name) =>
  runMigrationJob({
    service: SERVICE,
    migrations: list,
    env: { DATABASE_URL: db.url, DATABASE_RUNTIME_ROLE: role, LOG_LEVEL: 'silent' },
  });

async function asRuntime<T>(db: TestDatabase, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: asRuntimeRole(db.url) });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const denied = (what: RegExp) => (err: unknown) => {
  assert.equal((err as { code?: string }).code, '42501', String(err));
  assert.match((err as Error).message, what);
  return true;
};

describe('the migration step and the start-up check', () => {
  before(() => ensureRuntimeRole(stack.adminDatabaseUrl));

  describe('on a database never migrated', () => {
    let db: TestDatabase;
    before(async () => {
      db = await createTestDatabase('unmigrated');
    });
    after(() => db.drop());

    test('the service refuses to start, naming the database, what is pending and what to run', async () => {
      await assert.rejects(startService(db.url), (err: unknown) => {
        assert.ok(err instanceof PendingMigrationsError);
        assert.equal(err.database, db.name);
        const names = migrations.map((m) => m.name);
        assert.deepEqual(err.pending, names);
        assert.ok(
          err.message.startsWith(
            `probe will not start: database "${db.name}" has never been migrated (pending: ${names.join(', ')})`,
          ),
          err.message,
        );
        assert.match(err.message, /npm run migrate -w @trellis\/probe/);
        assert.match(err.message, /Kubernetes Job probe-migrate/);
        return true;
      });
      const owner = new pg.Client({ connectionString: db.url });
      await owner.connect();
      try {
        const { rows } = await owner.query(`SELECT to_regclass('schema_migrations') AS found`);
        assert.equal(rows[0].found, null, 'the service changed nothing: it did not migrate');
      } finally {
        await owner.end();
      }
    });

    test('one migration behind: only that one is named', async () => {
      const owner = createSequelize(db.url, logger);
      try {
        await migrate(owner, migrations.slice(0, -1), logger);
      } finally {
        await owner.close();
      }
      await assert.rejects(startService(db.url), (err: unknown) => {
        assert.ok(err instanceof PendingMigrationsError);
        assert.deepEqual(err.pending, ['0002-notes']);
        assert.match(err.message, /is 1 migration\(s\) behind \(pending: 0002-notes\)/);
        return true;
      });
    });
  });

  describe('after the migration step', () => {
    let db: TestDatabase;
    before(async () => {
      db = await createTestDatabase('migrated');
      assert.equal(await migrationStep(db, migrations), 0);
    });
    after(() => db.drop());

    test('the runtime role reads and writes rows', async () => {
      await asRuntime(db, async (client) => {
        const { rows } = await client.query(`INSERT INTO items (label) VALUES ('a') RETURNING id`);
        await client.query('INSERT INTO notes VALUES ($1, $2)', [rows[0].id, 'hello']);
        await client.query(`UPDATE items SET label = 'b' WHERE id = $1`, [rows[0].id]);
        const read = await client.query('SELECT label, body FROM items JOIN notes ON item_id = id');
        assert.deepEqual(read.rows, [{ label: 'b', body: 'hello' }]);
        await client.query('DELETE FROM notes');
        await client.query('DELETE FROM items');
      });
    });

    test('the runtime role cannot change the schema nor the record of migrations', async () => {
      await asRuntime(db, async (client) => {
        await assert.rejects(
          client.query('CREATE TABLE sneaky (id int)'),
          denied(/permission denied for schema public/),
        );
        await assert.rejects(client.query('ALTER TABLE items ADD COLUMN x int'), denied(/must be owner/));
        await assert.rejects(client.query('DROP TABLE notes'), denied(/must be owner/));
        await assert.rejects(
          client.query('CREATE INDEX items_label ON items (label)'),
          denied(/must be owner/),
        );
        await assert.rejects(
          client.query(`INSERT INTO schema_migrations (name) VALUES ('0003-forged')`),
          denied(/permission denied for table schema_migrations/),
        );
        const { rows } = await client.query('SELECT name FROM schema_migrations ORDER BY name');
        assert.deepEqual(
          rows.map((row) => row.name),
          migrations.map((m) => m.name).sort(),
        );
      });
    });

    test('the service starts as the runtime role', { timeout: 30_000 }, async () => {
      const runtime = await startService(asRuntimeRole(db.url));
      for (const step of runtime.stopSteps) await step.run();
    });

    test('tables of a later migration are the runtime role’s too; a second run changes nothing', async () => {
      const later: Migration[] = [
        ...migrations,
        {
          name: '0003-tags',
          up: async ({ sequelize }) => {
            await sequelize.query('CREATE TABLE tags (id serial PRIMARY KEY, name text)');
          },
        },
      ];
      assert.equal(await migrationStep(db, later), 0);
      assert.equal(await migrationStep(db, later), 0);
      await asRuntime(db, async (client) => {
        await client.query(`INSERT INTO tags (name) VALUES ('x')`);
        assert.equal((await client.query('SELECT count(*)::int AS n FROM tags')).rows[0].n, 1);
      });
    });
  });

  describe('a failing step exits non-zero and can run again', () => {
    let db: TestDatabase;
    before(async () => {
      db = await createTestDatabase('failing');
    });
    after(() => db.drop());

    test('a migration that fails, an unknown or invalid runtime role', async () => {
      const broken: Migration = {
        name: '0002-broken',
        up: async ({ sequelize }) => {
          await sequelize.query('ALTER TABLE missing ADD COLUMN x int');
        },
      };
      assert.equal(await migrationStep(db, [...migrations.slice(0, -1), broken]), 1);
      assert.equal(await migrationStep(db, migrations, 'no_such_role_here'), 1);
      assert.equal(await migrationStep(db, migrations, 'Robert"; DROP TABLE items; --'), 1);
      assert.equal(await migrationStep(db, migrations), 0, 'fixed, the step runs again');
    });
  });
});
