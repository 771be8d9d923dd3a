import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger, createSequelize, migrate, type Migration } from '../src/index.ts';
import { createTestDatabase } from '../src/testing/index.ts';

const logger = createLogger('migrate-test', process.env.TEST_LOG_LEVEL ?? 'silent');

/** Like a real migration that adds an index to a live table: CONCURRENTLY, statement by statement. */
const migrations: Migration[] = [
  {
    name: '0001-table',
    up: async ({ sequelize }) => {
      await sequelize.query('CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL)');
      await sequelize.query('INSERT INTO items SELECT n, md5(n::text) FROM generate_series(1, 5000) n');
    },
  },
  {
    name: '0002-index',
    up: async ({ sequelize }) => {
      await sequelize.query('CREATE INDEX CONCURRENTLY items_label ON items (label)');
    },
  },
];

test(
  'replicas migrating one database together: each migration runs once and nobody waits forever',
  { timeout: 30_000 },
  async () => {
    const db = await createTestDatabase('migrate');
    const replicas = [1, 2, 3].map(() => createSequelize(db.url, logger));
    try {
      // A blocking lock wait here used to deadlock with CREATE INDEX CONCURRENTLY (it waits for the
      // waiting replica's snapshot): the race must finish, well within the test's time.
      const applied = await Promise.all(replicas.map((s) => migrate(s, migrations, logger)));
      assert.deepEqual(
        applied.flat().sort(),
        ['0001-table', '0002-index'],
        'every migration applied by exactly one replica',
      );
      const [valid] = (await replicas[0]!.query(
        `SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_label'::regclass`,
      )) as [Array<{ indisvalid: boolean }>, unknown];
      assert.equal(valid[0]?.indisvalid, true);
      assert.deepEqual(
        await migrate(replicas[0]!, migrations, logger),
        [],
        'a later start has nothing to do',
      );
    } finally {
      await Promise.all(replicas.map((s) => s.close()));
      await db.drop();
    }
  },
);
