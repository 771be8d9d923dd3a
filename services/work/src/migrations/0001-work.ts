import type { Migration } from '@trellis/shared';

/**
 * The authorization projection (orgs, org and team memberships, teams, users — fed by governance
 * and identity events), projects with their members and settings, tasks with their per-project
 * counter and field history. Every list query is keyset-paginated; the indexes below serve them
 * (see the README for which query uses which).
 */
export const workMigration: Migration = {
  name: '0001-work',
  up: async ({ sequelize }) => {
    await sequelize.query(`
      -- Projection of identity.user (a tombstone keeps a late user.updated from reviving a user).
      CREATE TABLE users (
        id         uuid PRIMARY KEY,
        email      text NOT NULL,
        name       text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        deleted_at timestamptz
      );

      -- Projection of governance.org: the org's whole settings (plan included) and its tombstone.
      CREATE TABLE orgs (
        id         uuid PRIMARY KEY,
        owner_id   uuid,
        settings   jsonb NOT NULL DEFAULT '{}',
        updated_at timestamptz NOT NULL DEFAULT now(),
        deleted_at timestamptz
      );

      CREATE TABLE org_members (
        org_id     uuid NOT NULL,
        user_id    uuid NOT NULL,
        role       text NOT NULL CHECK (role IN ('OWNER', 'ADMIN', 'MANAGER', 'MEMBER', 'VIEWER')),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (org_id, user_id)
      );
      CREATE INDEX org_members_user ON org_members (user_id);

      CREATE TABLE teams (
        id         uuid PRIMARY KEY,
        org_id     uuid NOT NULL,
        settings   jsonb NOT NULL DEFAULT '{}',
        updated_at timestamptz NOT NULL DEFAULT now(),
        deleted_at timestamptz
      );

      CREATE TABLE team_members (
        team_id    uuid NOT NULL,
        org_id     uuid NOT NULL,
        user_id    uuid NOT NULL,
        role       text NOT NULL CHECK (role IN ('OWNER', 'MANAGER', 'LEAD', 'MEMBER', 'VIEWER')),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (team_id, user_id)
      );
      CREATE INDEX team_members_org_user ON team_members (org_id, user_id);

      CREATE TABLE projects (
        id          uuid PRIMARY KEY,
        org_id      uuid NOT NULL,
        team_id     uuid,
        name        text NOT NULL,
        key         text NOT NULL CHECK (key ~ '^[A-Z0-9]{2,10}$'),
        description text,
        status      text NOT NULL CHECK (status IN
                      ('PLANNING', 'ACTIVE', 'ON_HOLD', 'COMPLETED', 'ARCHIVED', 'PENDING_APPROVAL')),
        visibility  text NOT NULL CHECK (visibility IN ('ORG', 'PRIVATE')),
        owner_id    uuid NOT NULL,
        settings    jsonb NOT NULL DEFAULT '{}',
        version     integer NOT NULL DEFAULT 1,
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        deleted_at  timestamptz
      );
      -- Keys are unique per org among live projects; a restore re-checks (409).
      CREATE UNIQUE INDEX projects_org_key_live ON projects (org_id, key) WHERE deleted_at IS NULL;
      CREATE INDEX projects_org_page ON projects (org_id, created_at, id) WHERE deleted_at IS NULL;

      CREATE TABLE project_members (
        project_id uuid NOT NULL REFERENCES projects (id),
        user_id    uuid NOT NULL,
        role       text NOT NULL CHECK (role IN ('OWNER', 'MANAGER', 'LEAD', 'CONTRIBUTOR', 'VIEWER')),
        joined_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (project_id, user_id)
      );
      CREATE INDEX project_members_user ON project_members (user_id);
      CREATE UNIQUE INDEX project_members_one_owner ON project_members (project_id) WHERE role = 'OWNER';

      -- KEY-n numbering: one row per project, bumped with UPDATE ... RETURNING inside the task's
      -- create transaction, so concurrent creates queue on the row lock and numbers stay gap-free.
      CREATE TABLE task_counters (
        project_id  uuid PRIMARY KEY REFERENCES projects (id),
        last_number integer NOT NULL DEFAULT 0
      );

      CREATE TABLE tasks (
        id            uuid PRIMARY KEY,
        org_id        uuid NOT NULL,
        project_id    uuid NOT NULL REFERENCES projects (id),
        number        integer NOT NULL,
        key           text NOT NULL,
        parent_id     uuid REFERENCES tasks (id),
        title         text NOT NULL,
        description   text,
        status        text NOT NULL CHECK (status IN ('TODO', 'IN_PROGRESS', 'IN_REVIEW', 'BLOCKED', 'DONE')),
        priority      text NOT NULL CHECK (priority IN ('LOW', 'MEDIUM', 'HIGH', 'URGENT')),
        priority_rank smallint GENERATED ALWAYS AS (CASE priority WHEN 'LOW' THEN 1 WHEN 'MEDIUM' THEN 2
                        WHEN 'HIGH' THEN 3 ELSE 4 END) STORED,
        type          text NOT NULL CHECK (type IN ('TASK', 'FEATURE', 'BUG', 'IMPROVEMENT', 'DOCUMENTATION')),
        assignee_id   uuid,
        reporter_id   uuid NOT NULL,
        sprint_id     uuid,
        estimate      integer CHECK (estimate BETWEEN 0 AND 100),
        labels        text[] NOT NULL DEFAULT '{}',
        start_date    date,
        due_date      date,
        completed_at  timestamptz,
        version       integer NOT NULL DEFAULT 1,
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now(),
        deleted_at    timestamptz,
        search        tsvector GENERATED ALWAYS AS (
                        to_tsvector('english'::regconfig, coalesce(title, '') || ' ' || coalesce(description, ''))
                      ) STORED,
        UNIQUE (project_id, number)
      );
      -- One keyset index per sort order of GET /projects/{id}/tasks (the default -updatedAt first).
      CREATE INDEX tasks_project_updated ON tasks (project_id, updated_at, id) WHERE deleted_at IS NULL;
      CREATE INDEX tasks_project_created ON tasks (project_id, created_at, id) WHERE deleted_at IS NULL;
      CREATE INDEX tasks_project_due ON tasks (project_id, (coalesce(due_date, 'infinity'::date)), id)
        WHERE deleted_at IS NULL;
      CREATE INDEX tasks_project_priority ON tasks (project_id, priority_rank, id) WHERE deleted_at IS NULL;
      -- Filters that narrow a lot: status within a project, assignee across projects ("my tasks").
      CREATE INDEX tasks_project_status ON tasks (project_id, status) WHERE deleted_at IS NULL;
      CREATE INDEX tasks_assignee ON tasks (assignee_id, org_id, updated_at, id) WHERE deleted_at IS NULL;
      CREATE INDEX tasks_parent ON tasks (parent_id) WHERE parent_id IS NOT NULL;
      CREATE INDEX tasks_labels ON tasks USING gin (labels);
      CREATE INDEX tasks_search ON tasks USING gin (search);
      -- GET /tasks/lookup?orgId=&key=: keys repeat only across deleted projects, so not unique here.
      CREATE INDEX tasks_org_key ON tasks (org_id, key);

      CREATE TABLE task_history (
        id         bigserial PRIMARY KEY,
        task_id    uuid NOT NULL REFERENCES tasks (id),
        project_id uuid NOT NULL,
        at         timestamptz NOT NULL DEFAULT now(),
        actor_id   uuid NOT NULL,
        field      text NOT NULL,
        "from"     jsonb,
        "to"       jsonb
      );
      CREATE INDEX task_history_task ON task_history (task_id, id);
      CREATE INDEX task_history_project ON task_history (project_id, id);
    `);
  },
};
