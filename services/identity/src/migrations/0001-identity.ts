import type { Migration } from '@trellis/shared';

/** Users, sessions, codes, signing keys, login throttling and the org projections. */
export const identityMigration: Migration = {
  name: '0001-identity',
  up: async ({ sequelize }) => {
    await sequelize.query(`
      CREATE TABLE users (
        id             uuid PRIMARY KEY,
        email          text NOT NULL,
        name           text NOT NULL,
        password_hash  text NOT NULL,
        email_verified boolean NOT NULL DEFAULT false,
        version        integer NOT NULL DEFAULT 1,
        created_at     timestamptz NOT NULL DEFAULT now(),
        updated_at     timestamptz NOT NULL DEFAULT now(),
        deleted_at     timestamptz
      );
      -- E-mails are stored lower-cased; a deleted account frees its address.
      CREATE UNIQUE INDEX users_email_live ON users (email) WHERE deleted_at IS NULL;

      CREATE TABLE refresh_families (
        id              uuid PRIMARY KEY,
        user_id         uuid NOT NULL REFERENCES users (id),
        -- The newest access token issued in this family, so revoking the family can revoke it too.
        last_jti        text NOT NULL,
        last_expires_at timestamptz NOT NULL,
        revoked_at      timestamptz,
        revoked_reason  text,
        created_at      timestamptz NOT NULL DEFAULT now(),
        updated_at      timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX refresh_families_user_live ON refresh_families (user_id) WHERE revoked_at IS NULL;

      CREATE TABLE refresh_tokens (
        id         uuid PRIMARY KEY,
        family_id  uuid NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
        token_hash text NOT NULL UNIQUE,
        expires_at timestamptz NOT NULL,
        used_at    timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

      CREATE TABLE one_time_codes (
        user_id    uuid NOT NULL REFERENCES users (id),
        purpose    text NOT NULL,
        code_mac   text NOT NULL,
        expires_at timestamptz NOT NULL,
        attempts   integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, purpose)
      );

      CREATE TABLE signing_keys (
        kid         text PRIMARY KEY,
        private_pem text NOT NULL,
        public_jwk  jsonb NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX signing_keys_newest ON signing_keys (created_at DESC);

      CREATE TABLE login_failures (
        key          text PRIMARY KEY,
        failures     integer NOT NULL,
        window_start timestamptz NOT NULL
      );

      CREATE TABLE org_projection (
        org_id     uuid PRIMARY KEY,
        owner_id   uuid NOT NULL,
        deleted    boolean NOT NULL DEFAULT false,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX org_projection_owner ON org_projection (owner_id) WHERE NOT deleted;

      CREATE TABLE org_members (
        org_id  uuid NOT NULL,
        user_id uuid NOT NULL,
        PRIMARY KEY (org_id, user_id)
      );
      CREATE INDEX org_members_user ON org_members (user_id);
    `);
  },
};
