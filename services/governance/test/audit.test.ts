import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import {
  createEvent,
  createSequelize,
  defineEvent,
  outboxInboxMigration,
  outboxTraceContextMigration,
} from '@trellis/shared';
import { postgresHarness, waitFor, type PostgresHarness } from '@trellis/shared/testing';
import { AuditBatcher } from '../src/audit/audit.batcher.ts';
import { AuditLog } from '../src/audit/audit.service.ts';
import { startAuditSubscription } from '../src/audit/audit.subscription.ts';
import { auditMigration } from '../src/migrations/0002-audit.ts';

const touched = defineEvent({
  type: 'test.auditTouched',
  topic: 'work.task',
  version: 1,
  data: z.object({
    n: z.number(),
    token: z.string().optional(),
    nested: z.object({ code: z.string() }).optional(),
  }),
});

describe('audit log', () => {
  let harness: PostgresHarness;
  /** The database's owner: the service's own role may not disable the append-only trigger. */
  let owner: ReturnType<typeof createSequelize>;
  let audit: AuditLog;
  const event = (orgId: string | null, n: number, extra: Record<string, unknown> = {}) =>
    createEvent(touched, 'test', {
      orgId,
      actorId: randomUUID(),
      subjectId: `task-${n}`,
      data: { n, ...extra },
    });
  const append = (...events: ReturnType<typeof event>[]) =>
    harness.runtime.sequelize.transaction((transaction) => audit.append(transaction, events));
  const numbers = async (orgId: string) =>
    (await audit.list(orgId, {}, 100)).items.map((e) => (e.data as { n: number }).n);
  /** Runs `work`, counting the SQL statements it sends (BEGIN and COMMIT included). */
  const statementsOf = async (work: () => Promise<unknown>) => {
    const { sequelize } = harness.runtime;
    let statements = 0;
    sequelize.addHook('beforeQuery', 'count', () => {
      statements += 1;
    });
    try {
      await work();
    } finally {
      sequelize.removeHook('beforeQuery', 'count');
    }
    return statements;
  };

  before(async () => {
    harness = await postgresHarness('audit', [
      outboxInboxMigration,
      outboxTraceContextMigration,
      auditMigration,
    ]);
    audit = new AuditLog({ sequelize: harness.runtime.sequelize });
    owner = createSequelize(harness.ownerUrl, harness.logger);
  });

  after(async () => {
    await owner.close();
    await harness.close();
  });

  test('each org has its own gap-free chain, in append order, that verifies', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const events = [event(a, 1), event(b, 1), event(a, 2), event(null, 9), event(a, 3), event(b, 2)];
    for (const e of events) await append(e);
    const pageA = await audit.list(a, {}, 50);
    assert.deepEqual(
      pageA.items.map((e) => [e.seq, (e.data as { n: number }).n]),
      [
        [1, 1],
        [2, 2],
        [3, 3],
      ],
    );
    assert.equal(pageA.items[0]?.prevHash, '0'.repeat(64));
    assert.equal(pageA.items[1]?.prevHash, pageA.items[0]?.hash);
    assert.deepEqual(await audit.verify(a), { ok: true, checked: 3 });
    assert.deepEqual(await audit.verify(b), { ok: true, checked: 2 });
  });

  test('an event already in the log is not appended twice', async () => {
    const org = randomUUID();
    const once = event(org, 1);
    await append(once);
    await append(once);
    assert.equal((await audit.list(org, {}, 50)).items.length, 1);
  });

  test('one append takes three statements per org, however many events, each org in the given order', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    await append(event(a, 0)); // a's chain goes on from an existing head, b's starts
    const events = [event(a, 1), event(b, 1), event(a, 2), event(null, 9), event(b, 2), event(a, 3)];
    const repeated = events[0]!;
    assert.equal(await statementsOf(() => append(...events, repeated)), 2 + 2 * 3);
    assert.deepEqual(await numbers(a), [0, 1, 2, 3]);
    assert.deepEqual(await numbers(b), [1, 2]);
    assert.deepEqual(await audit.verify(a), { ok: true, checked: 4 });
    assert.deepEqual(await audit.verify(b), { ok: true, checked: 2 });
  });

  test('the batcher writes events handed over together in one transaction per org', async () => {
    const batcher = new AuditBatcher({ sequelize: harness.runtime.sequelize, audit });
    const [a, b] = [randomUUID(), randomUUID()];
    const events = [event(a, 1), event(b, 1), event(a, 2), event(a, 3), event(b, 2)];
    const statements = await statementsOf(() => Promise.all(events.map((e) => batcher.append(e))));
    assert.equal(statements, 2 * 5, 'BEGIN, three statements and COMMIT per org');
    assert.deepEqual(await numbers(a), [1, 2, 3]);
    assert.deepEqual(await numbers(b), [1, 2]);
    assert.deepEqual(await audit.verify(a), { ok: true, checked: 3 });
  });

  test('an event the log refuses fails alone; the others of its write still land, in order', async () => {
    const batcher = new AuditBatcher({ sequelize: harness.runtime.sequelize, audit });
    const org = randomUUID();
    // jsonb cannot hold a NUL character: PostgreSQL refuses this entry.
    const refused = { ...event(org, 2), data: { n: 2, note: 'nul \u0000 here' } };
    const results = await Promise.allSettled(
      [event(org, 1), refused, event(org, 3)].map((e) => batcher.append(e)),
    );
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.match(String((results[1] as PromiseRejectedResult).reason), /unsupported Unicode escape/);
    assert.deepEqual(await numbers(org), [1, 3]);
    assert.deepEqual(await audit.verify(org), { ok: true, checked: 2 });
  });

  test('concurrent appends to one org still give seqs 1..n and a valid chain', async () => {
    const org = randomUUID();
    await Promise.all(Array.from({ length: 20 }, (_, i) => append(event(org, i))));
    const page = await audit.list(org, {}, 100);
    assert.deepEqual(
      page.items.map((e) => e.seq),
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    assert.deepEqual(await audit.verify(org), { ok: true, checked: 20 });
  });

  test('secrets never enter an entry', async () => {
    const org = randomUUID();
    await append(event(org, 1, { token: 'invitation-token-value', nested: { code: '123456' } }));
    const [entry] = (await audit.list(org, {}, 10)).items;
    assert.deepEqual(entry?.data, { n: 1, token: '[redacted]', nested: { code: '[redacted]' } });
    assert.doesNotMatch(JSON.stringify(entry), /invitation-token-value|123456/);
  });

  test('the log is append-only; an entry altered behind its back is reported by verify', async () => {
    const { sequelize } = harness.runtime;
    const org = randomUUID();
    for (let i = 1; i <= 4; i += 1) await append(event(org, i));
    await assert.rejects(
      sequelize.query(
        `UPDATE audit_entries SET summary = 'nothing happened' WHERE org_id = :org AND seq = 2`,
        {
          replacements: { org },
        },
      ),
      /append-only/,
    );
    // A database administrator bypassing the trigger:
    await owner.transaction(async (transaction) => {
      await owner.query('ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only', {
        transaction,
      });
      await owner.query(`UPDATE audit_entries SET data = '{"n": 99}' WHERE org_id = :org AND seq = 2`, {
        replacements: { org },
        transaction,
      });
      await owner.query('ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only', {
        transaction,
      });
    });
    assert.deepEqual(await audit.verify(org), { ok: false, checked: 1, firstBrokenSeq: 2 });
  });

  test('entries removed from the end are noticed', async () => {
    const org = randomUUID();
    for (let i = 1; i <= 3; i += 1) await append(event(org, i));
    await owner.transaction(async (transaction) => {
      await owner.query('ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only', {
        transaction,
      });
      await owner.query('DELETE FROM audit_entries WHERE org_id = :org AND seq = 3', {
        replacements: { org },
        transaction,
      });
      await owner.query('ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only', {
        transaction,
      });
    });
    assert.deepEqual(await audit.verify(org), { ok: false, checked: 2, firstBrokenSeq: 3 });
  });

  test('filters and cursor pages', async () => {
    const org = randomUUID();
    const events = Array.from({ length: 5 }, (_, i) => event(org, i));
    for (const e of events) await append(e);
    const first = await audit.list(org, {}, 2);
    assert.equal(first.items.length, 2);
    assert.ok(first.nextCursor);
    const second = await audit.list(org, {}, 2, first.nextCursor ?? undefined);
    assert.deepEqual(
      second.items.map((e) => e.seq),
      [3, 4],
    );
    const byActor = await audit.list(org, { actorId: events[3]?.actorId ?? '' }, 10);
    assert.deepEqual(
      byActor.items.map((e) => e.id),
      [events[3]?.id],
    );
    assert.equal((await audit.list(org, { subjectId: 'task-4' }, 10)).items.length, 1);
    assert.equal((await audit.list(org, { type: 'other.type' }, 10)).items.length, 0);
    assert.equal(
      (await audit.list(org, { from: new Date(Date.now() + 60_000).toISOString() }, 10)).items.length,
      0,
    );
  });

  test('the outbox hook appends in the same transaction as the change, and not on rollback', async () => {
    const { sequelize, outbox } = harness.runtime;
    outbox.onAdd((transaction, events) => audit.append(transaction, events));
    const org = randomUUID();
    await sequelize.transaction((transaction) => outbox.add(transaction, event(org, 1)));
    await assert.rejects(
      sequelize.transaction(async (transaction) => {
        await outbox.add(transaction, event(org, 2));
        throw new Error('rolled back');
      }),
    );
    assert.deepEqual(
      (await audit.list(org, {}, 10)).items.map((e) => (e.data as { n: number }).n),
      [1],
    );
  });

  test("other services' events arrive through Kafka, each once, each org's in partition order", async () => {
    const consumer = await startAuditSubscription({
      bus: harness.runtime.bus,
      sequelize: harness.runtime.sequelize,
      audit,
    });
    await consumer.ready;
    const [a, b] = [randomUUID(), randomUUID()];
    // One subject, so one partition: the two orgs' events interleaved in a known order.
    const fromWork = Array.from({ length: 10 }, (_, n) => ({
      ...event(n % 2 ? b : a, n),
      subjectId: 'task-1',
    }));
    await harness.runtime.bus.publish(fromWork.map((e) => ({ topic: 'work.task', event: e })));
    await harness.runtime.bus.publish([{ topic: 'work.task', event: fromWork[0]! }]); // redelivered
    await waitFor(async () => (await numbers(a)).length + (await numbers(b)).length >= 10, {
      what: 'the ten events in the log',
    });
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // the redelivery's batch
    assert.deepEqual(await numbers(a), [0, 2, 4, 6, 8], 'a redelivered event is recorded once');
    assert.deepEqual(await numbers(b), [1, 3, 5, 7, 9]);
    const [first] = (await audit.list(a, {}, 1)).items;
    assert.equal(first?.id, fromWork[0]?.id);
    assert.equal(first?.type, 'test.auditTouched');
    assert.deepEqual(await audit.verify(a), { ok: true, checked: 5 });
    await consumer.stop();
  });
});
