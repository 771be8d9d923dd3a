import type { Migration } from '@trellis/shared';

/**
 * Login throttling keyed on (account, client address) (README "Throttling"). `last_failure_at`
 * dates an account's growing backoff; `login_known_addresses` holds the addresses an account has
 * signed in from, which that backoff spares, so guesses from elsewhere do not hold its owner up.
 */
export const loginThrottleMigration: Migration = {
  name: '0002-login-throttle',
  up: async ({ sequelize }) => {
    await sequelize.query(`
      ALTER TABLE login_failures ADD COLUMN last_failure_at timestamptz NOT NULL DEFAULT now();

      CREATE TABLE login_known_addresses (
        user_id       uuid NOT NULL REFERENCES users (id),
        address       text NOT NULL,
        last_login_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, address)
      );
      -- The hourly sweep forgets addresses not used for a while.
      CREATE INDEX login_known_addresses_last_login ON login_known_addresses (last_login_at);
    `);
  },
};
