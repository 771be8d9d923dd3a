import type { Migration } from '@trellis/shared';

/**
 * The rate-limit counters every gateway replica shares (README, "Rate limits across replicas"): one
 * row per caller and one-minute window. UNLOGGED: a counter needs no crash safety (after a crash the
 * table is empty and callers start their window afresh), and skipping the WAL keeps a reservation
 * cheap. The key leads with `window_start` so the periodic prune is a range scan of it; the fill
 * factor leaves room for the in-page (HOT) updates a busy caller's row gets many times a minute.
 */
export const rateLimitMigration: Migration = {
  name: '0001-rate-limit',
  up: async ({ sequelize }) => {
    await sequelize.query(`
      CREATE UNLOGGED TABLE rate_limit (
        window_start timestamptz NOT NULL,
        key          text NOT NULL,      -- user:<id> or ip:<address>
        used         integer NOT NULL,   -- units every replica has reserved, never above budget
        granted      integer NOT NULL,   -- what the last reservation got
        budget       integer NOT NULL,   -- the caller's limit per window
        PRIMARY KEY (window_start, key)
      ) WITH (fillfactor = 70)
    `);
  },
};
