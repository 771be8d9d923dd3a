import type { Migration } from '@trellis/shared';

/**
 * The per-org, hash-chained audit log. `audit_heads` holds each chain's last seq and hash and is
 * locked for every append, so entries of one org get gap-free seqs in commit order. A trigger
 * makes the table append-only for the application; only someone disabling it (a DBA) can alter
 * history, and `verify` then finds the entry.
 */
export const auditMigration: Migration = {
  name: '0002-audit',
  up: async ({ sequelize }) => {
    await sequelize.query(`
      CREATE TABLE audit_heads (
        org_id uuid PRIMARY KEY,
        seq    bigint NOT NULL,
        hash   text NOT NULL
      );
      CREATE TABLE audit_entries (
        org_id      uuid NOT NULL,
        seq         bigint NOT NULL,
        id          uuid NOT NULL UNIQUE,
        occurred_at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        actor_id    uuid,
        type        text NOT NULL,
        subject_id  text NOT NULL,
        summary     text NOT NULL,
        data        jsonb NOT NULL,
        prev_hash   text NOT NULL,
        hash        text NOT NULL,
        PRIMARY KEY (org_id, seq)
      );
      CREATE INDEX audit_entries_actor ON audit_entries (org_id, actor_id, seq);
      CREATE INDEX audit_entries_type ON audit_entries (org_id, type, seq);
      CREATE INDEX audit_entries_subject ON audit_entries (org_id, subject_id, seq);
      CREATE INDEX audit_entries_time ON audit_entries (org_id, occurred_at);
      CREATE FUNCTION audit_entries_append_only() RETURNS trigger AS $$
      BEGIN
        RAISE EXCEPTION 'the audit log is append-only';
      END $$ LANGUAGE plpgsql;
      CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
        FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only();
    `);
  },
};
