import type { Migration } from '@trellis/shared';

/**
 * Sprints (product.md §8). `sprints_one_active` makes "one ACTIVE sprint per project" a database
 * fact: a concurrent second start fails on it (409). The scope at start (`committed_points`,
 * `committed_task_ids`) and the completed points at completion are frozen on the row.
 */
export const sprintsMigration: Migration = {
  name: '0002-sprints',
  up: async ({ sequelize }) => {
    await sequelize.query(`
      CREATE TABLE sprints (
        id                 uuid PRIMARY KEY,
        org_id             uuid NOT NULL,
        project_id         uuid NOT NULL REFERENCES projects (id),
        name               text NOT NULL,
        goal               text,
        start_date         date NOT NULL,
        end_date           date NOT NULL,
        state              text NOT NULL CHECK (state IN ('PLANNED', 'ACTIVE', 'COMPLETED')),
        committed_points   integer,
        committed_task_ids uuid[],
        completed_points   integer,
        started_at         timestamptz,
        completed_at       timestamptz,
        version            integer NOT NULL DEFAULT 1,
        created_at         timestamptz NOT NULL DEFAULT now(),
        updated_at         timestamptz NOT NULL DEFAULT now(),
        CHECK (end_date >= start_date)
      );
      CREATE UNIQUE INDEX sprints_one_active ON sprints (project_id) WHERE state = 'ACTIVE';
      -- Sprint lists (?state=) and velocity (last N COMPLETED, newest first).
      CREATE INDEX sprints_project_state ON sprints (project_id, state, start_date);
      CREATE INDEX sprints_project_completed ON sprints (project_id, completed_at DESC)
        WHERE state = 'COMPLETED';
      -- Tasks of a sprint (start, complete, delete, report).
      CREATE INDEX tasks_sprint ON tasks (sprint_id) WHERE sprint_id IS NOT NULL;
    `);
  },
};
