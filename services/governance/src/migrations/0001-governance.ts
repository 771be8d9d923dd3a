import type { Migration } from '@trellis/shared';

/** Orgs, org and team memberships, teams (settings as jsonb) and the user directory projection. */
export const governanceMigration: Migration = {
  name: '0001-governance',
  up: async ({ sequelize }) => {
    await sequelize.query(`
      -- Projection of identity.user: enough to list members by name and e-mail.
      CREATE TABLE users (
        id         uuid PRIMARY KEY,
        email      text NOT NULL,
        name       text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        -- A tombstone, so a late user.updated cannot bring a deleted user back.
        deleted_at timestamptz
      );

      CREATE TABLE orgs (
        id         uuid PRIMARY KEY,
        name       text NOT NULL,
        -- Unique across deleted orgs too, so a restore never collides.
        slug       text NOT NULL UNIQUE,
        owner_id   uuid NOT NULL,
        settings   jsonb NOT NULL,
        version    integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        deleted_at timestamptz
      );
      CREATE INDEX orgs_owner ON orgs (owner_id);

      CREATE TABLE org_members (
        org_id     uuid NOT NULL REFERENCES orgs (id),
        user_id    uuid NOT NULL,
        role       text NOT NULL CHECK (role IN ('OWNER', 'ADMIN', 'MANAGER', 'MEMBER', 'VIEWER')),
        joined_at  timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (org_id, user_id)
      );
      CREATE INDEX org_members_user ON org_members (user_id);
      CREATE INDEX org_members_page ON org_members (org_id, joined_at, user_id);
      -- Single owner per org (product.md §2).
      CREATE UNIQUE INDEX org_members_one_owner ON org_members (org_id) WHERE role = 'OWNER';

      CREATE TABLE teams (
        id          uuid PRIMARY KEY,
        org_id      uuid NOT NULL REFERENCES orgs (id),
        name        text NOT NULL,
        description text,
        owner_id    uuid NOT NULL,
        settings    jsonb NOT NULL,
        version     integer NOT NULL DEFAULT 1,
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        deleted_at  timestamptz
      );
      CREATE INDEX teams_org_page ON teams (org_id, created_at, id) WHERE deleted_at IS NULL;
      CREATE UNIQUE INDEX teams_org_name_live ON teams (org_id, lower(name)) WHERE deleted_at IS NULL;

      CREATE TABLE team_members (
        team_id    uuid NOT NULL REFERENCES teams (id),
        org_id     uuid NOT NULL REFERENCES orgs (id),
        user_id    uuid NOT NULL,
        role       text NOT NULL CHECK (role IN ('OWNER', 'MANAGER', 'LEAD', 'MEMBER', 'VIEWER')),
        joined_at  timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (team_id, user_id)
      );
      CREATE INDEX team_members_org_user ON team_members (org_id, user_id);
      CREATE INDEX team_members_page ON team_members (team_id, joined_at, user_id);
      CREATE UNIQUE INDEX team_members_one_owner ON team_members (team_id) WHERE role = 'OWNER';
    `);
  },
};
