import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import { decodeCursor, eventDefinition, pageOf, type EventEnvelope, type Page } from '@trellis/shared';
import { z } from 'zod';
import { GENESIS_HASH, entryHash, redact, type ChainedFields } from './audit.chain.ts';
import { summarize } from './audit.summary.ts';

export interface AuditEntry extends Omit<ChainedFields, 'orgId'> {
  hash: string;
  prevHash: string;
}

export interface AuditFilters {
  actorId?: string;
  type?: string;
  subjectId?: string;
  from?: string;
  to?: string;
}

export interface VerifyResult {
  ok: boolean;
  checked: number;
  firstBrokenSeq?: number;
}

interface EntryRow {
  org_id: string;
  seq: string;
  id: string;
  occurred_at: Date;
  actor_id: string | null;
  type: string;
  subject_id: string;
  summary: string;
  data: unknown;
  prev_hash: string;
  hash: string;
}

const cursorSchema = z.object({ seq: z.number().int().nonnegative() });

function fieldsOf(row: EntryRow): ChainedFields {
  return {
    orgId: row.org_id,
    seq: Number(row.seq),
    id: row.id,
    occurredAt: row.occurred_at.toISOString(),
    actorId: row.actor_id,
    type: row.type,
    subjectId: row.subject_id,
    summary: row.summary,
    data: row.data,
  };
}

/** What the chain covers of an event appended as `seq` of its org's log. */
function chainedFields(orgId: string, seq: number, event: EventEnvelope): ChainedFields {
  return {
    orgId,
    seq,
    id: event.id,
    occurredAt: new Date(event.occurredAt).toISOString(),
    actorId: event.actorId,
    type: event.type,
    subjectId: event.subjectId,
    summary: summarize(event),
    // Round-tripped through JSON as jsonb would, so the hash matches what verify reads back.
    data: JSON.parse(JSON.stringify(redact(event.data))) as unknown,
  };
}

interface NewEntry extends ChainedFields {
  prevHash: string;
  hash: string;
}

/**
 * The entries `events` add, in order, to the org's chain ending at `head`; ids already recorded
 * (lower-case, as PostgreSQL returns a uuid) and repeats are left out.
 */
function chainEntries(
  orgId: string,
  head: { seq: number; hash: string },
  events: EventEnvelope[],
  recorded: Iterable<string>,
): NewEntry[] {
  const seen = new Set(recorded);
  const entries: NewEntry[] = [];
  let prevHash = head.hash;
  for (const event of events) {
    const id = event.id.toLowerCase();
    if (seen.has(id)) continue;
    seen.add(id);
    const fields = chainedFields(orgId, head.seq + entries.length + 1, event);
    const hash = entryHash(prevHash, fields);
    entries.push({ ...fields, prevHash, hash });
    prevHash = hash;
  }
  return entries;
}

/** An event that enters an org's log: org-scoped, and not a mail request (one-time tokens). */
function isAudited(event: EventEnvelope): event is EventEnvelope & { orgId: string } {
  return !!event.orgId && !eventDefinition(event.type)?.topic.endsWith('.mail');
}

/**
 * The per-org hash-chained audit log: append (inside the caller's transaction), list, verify.
 * Idempotent per event id: an event already in the log is not appended again.
 */
export class AuditLog {
  private readonly sequelize: Sequelize;

  constructor(deps: { sequelize: Sequelize }) {
    this.sequelize = deps.sequelize;
  }

  /**
   * Appends the org-scoped events, each org's in the order given; events without an orgId belong
   * to no org's log, and mail requests (which carry one-time tokens for notify alone) never enter
   * it. Three statements per org, however many events.
   */
  async append(transaction: Transaction, events: EventEnvelope[]): Promise<void> {
    const byOrg = Map.groupBy(events.filter(isAudited), (event) => event.orgId);
    for (const [orgId, orgEvents] of byOrg) await this.appendToOrg(transaction, orgId, orgEvents);
  }

  private async appendToOrg(transaction: Transaction, orgId: string, events: EventEnvelope[]): Promise<void> {
    const query = <T extends object>(sql: string, replacements: Record<string, unknown>) =>
      this.sequelize.query<T>(sql, { replacements, transaction, type: QueryTypes.SELECT });
    // Creates the org's chain head on its first entry, and locks it either way until commit: appends
    // of one org are serialised, so seqs are gap-free in commit order.
    const [head] = await query<{ seq: string; hash: string }>(
      `INSERT INTO audit_heads (org_id, seq, hash) VALUES (:orgId, 0, :genesis)
       ON CONFLICT (org_id) DO UPDATE SET seq = audit_heads.seq RETURNING seq, hash`,
      { orgId, genesis: GENESIS_HASH },
    );
    if (!head) throw new Error(`audit head missing for org ${orgId}`);
    // Read under the lock, so an append of the same event that committed meanwhile is seen.
    const recorded = await query<{ id: string }>('SELECT id FROM audit_entries WHERE id IN (:ids)', {
      ids: events.map((event) => event.id),
    });
    const entries = chainEntries(
      orgId,
      { seq: Number(head.seq), hash: head.hash },
      events,
      recorded.map((row) => row.id),
    );
    if (entries.length > 0) await this.insert(transaction, orgId, entries);
  }

  /** The entries and the org's new head in one statement (a data-modifying WITH always runs in full). */
  private async insert(transaction: Transaction, orgId: string, entries: NewEntry[]): Promise<void> {
    const last = entries[entries.length - 1];
    const replacements: Record<string, unknown> = { orgId, seq: last?.seq, hash: last?.hash };
    const rows = entries.map((entry, i) => {
      Object.assign(replacements, {
        [`seq${i}`]: entry.seq,
        [`id${i}`]: entry.id,
        [`occurredAt${i}`]: entry.occurredAt,
        [`actorId${i}`]: entry.actorId,
        [`type${i}`]: entry.type,
        [`subjectId${i}`]: entry.subjectId,
        [`summary${i}`]: entry.summary,
        [`data${i}`]: JSON.stringify(entry.data),
        [`prevHash${i}`]: entry.prevHash,
        [`hash${i}`]: entry.hash,
      });
      return `(:orgId, :seq${i}, :id${i}, :occurredAt${i}, :actorId${i}, :type${i}, :subjectId${i},
               :summary${i}, :data${i}::jsonb, :prevHash${i}, :hash${i})`;
    });
    await this.sequelize.query(
      `WITH appended AS (
         INSERT INTO audit_entries (org_id, seq, id, occurred_at, actor_id, type, subject_id, summary, data, prev_hash, hash)
         VALUES ${rows.join(', ')}
       )
       UPDATE audit_heads SET seq = :seq, hash = :hash WHERE org_id = :orgId`,
      { replacements, transaction },
    );
  }

  async list(
    orgId: string,
    filters: AuditFilters,
    limit: number,
    cursor?: string,
  ): Promise<Page<AuditEntry>> {
    const after = cursor ? decodeCursor(cursor, cursorSchema).seq : 0;
    const conditions = ['org_id = :orgId', 'seq > :after'];
    if (filters.actorId) conditions.push('actor_id = :actorId');
    if (filters.type) conditions.push('type = :type');
    if (filters.subjectId) conditions.push('subject_id = :subjectId');
    if (filters.from) conditions.push('occurred_at >= :from');
    if (filters.to) conditions.push('occurred_at < :to');
    const rows = await this.sequelize.query<EntryRow>(
      `SELECT * FROM audit_entries WHERE ${conditions.join(' AND ')} ORDER BY seq LIMIT :limit`,
      { replacements: { ...filters, orgId, after, limit: limit + 1 }, type: QueryTypes.SELECT },
    );
    return pageOf(
      rows,
      limit,
      (row) => {
        const { orgId: _org, ...fields } = fieldsOf(row);
        return { ...fields, hash: row.hash, prevHash: row.prev_hash };
      },
      (row) => ({ seq: Number(row.seq) }),
    );
  }

  /** Recomputes the org's chain from the start; reports the first entry that does not hold. */
  async verify(orgId: string, batchSize = 1_000): Promise<VerifyResult> {
    let previous = GENESIS_HASH;
    let expectedSeq = 1;
    let checked = 0;
    for (;;) {
      const rows = await this.sequelize.query<EntryRow>(
        'SELECT * FROM audit_entries WHERE org_id = :orgId AND seq >= :from ORDER BY seq LIMIT :limit',
        { replacements: { orgId, from: expectedSeq, limit: batchSize }, type: QueryTypes.SELECT },
      );
      for (const row of rows) {
        const seq = Number(row.seq);
        const intact =
          seq === expectedSeq &&
          row.prev_hash === previous &&
          row.hash === entryHash(previous, fieldsOf(row));
        if (!intact) return { ok: false, checked, firstBrokenSeq: Math.min(seq, expectedSeq) };
        previous = row.hash;
        expectedSeq += 1;
        checked += 1;
      }
      if (rows.length < batchSize) break;
    }
    const [head] = await this.sequelize.query<{ seq: string }>(
      'SELECT seq FROM audit_heads WHERE org_id = :orgId',
      {
        replacements: { orgId },
        type: QueryTypes.SELECT,
      },
    );
    // Entries deleted from the end would leave the head ahead of the chain.
    if (head && Number(head.seq) !== checked) return { ok: false, checked, firstBrokenSeq: checked + 1 };
    return { ok: true, checked };
  }
}
