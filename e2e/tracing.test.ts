import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '@trellis/shared/testing';
import { apiClient, type ApiClient } from './support/client.ts';
import { join, person, type Person } from './support/people.ts';
import {
  startPrivateJaeger,
  type JaegerSpan,
  type JaegerTrace,
  type PrivateJaeger,
} from './support/private-jaeger.ts';
import { SERVICES, startSuite, type Suite } from './support/suite.ts';

/** One span as the assertions read it: who made it, what it is, and where it hangs in the tree. */
interface SpanView {
  service: string;
  name: string;
  kind: string | undefined;
  db: string | undefined;
  id: string;
  parent: string | undefined;
}

function view(trace: JaegerTrace): SpanView[] {
  const tag = (span: JaegerSpan, ...keys: string[]) =>
    span.tags.find((t) => keys.includes(t.key))?.value as string | undefined;
  return trace.spans.map((span) => ({
    service: trace.processes[span.processID]?.serviceName ?? '?',
    name: span.operationName,
    kind: tag(span, 'span.kind'),
    db: tag(span, 'db.system.name', 'db.system'),
    id: span.spanID,
    parent: span.references.find((r) => r.refType === 'CHILD_OF')?.spanID,
  }));
}

/** Whether `span` descends from `ancestor` in the trace. */
function descends(spans: SpanView[], span: SpanView, ancestor: SpanView): boolean {
  const byId = new Map(spans.map((s) => [s.id, s]));
  for (let at = byId.get(span.parent ?? ''); at; at = byId.get(at.parent ?? ''))
    if (at === ancestor) return true;
  return false;
}

/** A W3C trace context the client starts its request with, so the test knows the trace's id. */
function clientContext() {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

/**
 * Issue 24's acceptance: with tracing on, one user action is one trace in a real Jaeger — from the
 * gateway through the owning service and its database, the outbox relay, Kafka, and the consumers.
 */
describe('one trace per user action, across HTTP and Kafka (Jaeger)', () => {
  let jaeger: PrivateJaeger;
  let suite: Suite;
  let api: ApiClient;
  let alice: Person, bob: Person;
  let taskId: string;

  before(async () => {
    jaeger = await startPrivateJaeger();
    const tracing = { OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpUrl, OTEL_BSP_SCHEDULE_DELAY: '100' };
    suite = await startSuite({ env: Object.fromEntries(SERVICES.map((name) => [name, tracing])) });
    api = apiClient(suite.gatewayUrl);
    [alice, bob] = (await Promise.all(['Alice Tracer', 'Bob Traced'].map((n) => person(api, n)))) as [
      Person,
      Person,
    ];
    const org = await api.post<{ id: string }>(
      '/orgs',
      { name: `Traces ${randomUUID().slice(0, 6)}` },
      alice.token,
    );
    assert.equal(org.status, 201);
    await join(api, org.body.id, alice, bob, 'MEMBER');
    const project = await api.post<{ id: string }>(
      '/projects',
      { orgId: org.body.id, name: 'Traces', key: 'TRC' },
      alice.token,
    );
    assert.equal(project.status, 201);
    const member = await api.post(
      `/projects/${project.body.id}/members`,
      { userId: bob.id, role: 'CONTRIBUTOR' },
      alice.token,
    );
    assert.equal(member.status, 201, JSON.stringify(member.body));
    const task = await api.post<{ id: string }>(
      `/projects/${project.body.id}/tasks`,
      { title: 'Follow me' },
      alice.token,
    );
    assert.equal(task.status, 201);
    taskId = task.body.id;
  });

  after(async () => {
    await suite?.close();
    await jaeger?.close();
  });

  /** Spans whose parent is neither the client's span nor in the trace (yet: services export in batches). */
  const orphans = (spans: SpanView[], clientSpanId: string) => {
    const ids = new Set(spans.map((s) => s.id));
    return spans.filter((s) => s.parent !== clientSpanId && !ids.has(s.parent ?? ''));
  };

  /**
   * The trace once `complete` holds for its spans and none of them waits for its parent (spans reach
   * Jaeger in batches, service by service).
   */
  const traceOf = (client: { traceId: string; spanId: string }, complete: (spans: SpanView[]) => boolean) =>
    waitFor(
      async () => {
        const trace = await jaeger.trace(client.traceId);
        const spans = trace ? view(trace) : [];
        return complete(spans) && orphans(spans, client.spanId).length === 0 ? spans : undefined;
      },
      { what: `trace ${client.traceId} in Jaeger`, timeoutMs: 45_000, intervalMs: 500 },
    );

  /** Every span hangs from the client's request: one tree, no orphan, no second root. */
  const assertOneTree = (
    spans: SpanView[],
    clientSpanId: string,
    t?: { diagnostic: (m: string) => void },
  ) => {
    const perService = new Map<string, number>();
    for (const span of spans) perService.set(span.service, (perService.get(span.service) ?? 0) + 1);
    t?.diagnostic(
      `one trace, ${spans.length} spans: ${[...perService].map(([n, c]) => `${n} ${c}`).join(', ')}`,
    );
    assert.deepEqual(orphans(spans, clientSpanId), [], 'every span has its parent in the trace');
    const roots = spans.filter((s) => s.parent === clientSpanId);
    assert.deepEqual(
      roots.map((s) => [s.service, s.kind]),
      [['gateway', 'server']],
      'the gateway is the only child of the client',
    );
  };

  /** The consumer span of `service` for `topic`, with a database write of `db` beneath it. */
  const consumedWithWrite = (spans: SpanView[], service: string, topic: string, db: string) =>
    spans.some(
      (process) =>
        process.service === service &&
        process.name === `${topic} process` &&
        process.kind === 'consumer' &&
        spans.some(
          (write) => write.service === service && write.db === db && descends(spans, write, process),
        ),
    );

  test('PATCH /tasks/{id} assigning the task: gateway → work (HTTP, SQL) → outbox relay → Kafka → notify (consume, Mongo)', async (t) => {
    const client = clientContext();
    const patched = await api.call('PATCH', `/tasks/${taskId}`, {
      body: { assigneeId: bob.id },
      token: alice.token,
      headers: { traceparent: client.traceparent },
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));

    const spans = await traceOf(client, (s) => consumedWithWrite(s, 'notify', 'work.task', 'mongodb'));
    assertOneTree(spans, client.spanId, t);
    const has = (what: string, match: (s: SpanView) => boolean) => {
      const found = spans.find(match);
      assert.ok(found, `${what}; the trace has: ${spans.map((s) => `${s.service}:${s.name}`).join(', ')}`);
      return found;
    };
    const gateway = has('a gateway server span', (s) => s.service === 'gateway' && s.kind === 'server');
    const work = has(
      'work serves the PATCH by its route template',
      (s) => s.service === 'work' && s.kind === 'server' && /PATCH .*tasks\/:/.test(s.name),
    );
    assert.ok(descends(spans, work, gateway), 'work continues the gateway’s span');
    has(
      'an SQL statement of work',
      (s) => s.service === 'work' && s.db === 'postgresql' && descends(spans, s, work),
    );
    const relay = has('the outbox relay', (s) => s.service === 'work' && s.name === 'outbox relay');
    assert.ok(descends(spans, relay, work), 'the relay continues the request that wrote the row');
    const publish = has(
      'the Kafka produce',
      (s) => s.service === 'work' && s.name === 'work.task publish' && s.kind === 'producer',
    );
    assert.equal(publish.parent, relay.id);
    const consumed = has(
      'notify consumes the event',
      (s) => s.service === 'notify' && s.name === 'work.task process' && s.kind === 'consumer',
    );
    assert.ok(descends(spans, consumed, publish), 'the consumer continues the producer’s span');
    const stored = JSON.stringify(await jaeger.trace(client.traceId));
    for (const who of [alice, bob]) assert.ok(!stored.includes(who.token), 'no access token in any span');
  });

  test('a comment mentioning someone: gateway → collab (HTTP, Mongo) → outbox relay → Kafka → notify (consume, Mongo)', async (t) => {
    const client = clientContext();
    const comment = await api.call<{ id: string }>('POST', '/comments', {
      body: { taskId, body: `Have a look, <@${bob.id}>` },
      token: alice.token,
      headers: { traceparent: client.traceparent },
    });
    assert.equal(comment.status, 201, JSON.stringify(comment.body));

    const spans = await traceOf(client, (s) => consumedWithWrite(s, 'notify', 'collab.comment', 'mongodb'));
    assertOneTree(spans, client.spanId, t);
    const collab = spans.find((s) => s.service === 'collab' && s.kind === 'server');
    assert.ok(collab, 'collab serves the POST');
    assert.ok(
      spans.some((s) => s.service === 'collab' && s.db === 'mongodb' && descends(spans, s, collab)),
      'collab writes the comment to MongoDB inside the request',
    );
    const publish = spans.find((s) => s.service === 'collab' && s.name === 'collab.comment publish');
    assert.ok(
      publish && descends(spans, publish, collab),
      'collab publishes the event in the request’s trace',
    );
  });
});
