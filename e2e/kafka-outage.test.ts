import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { metricValue, waitFor } from '@trellis/shared/testing';
import { apiClient, type ApiClient } from './support/client.ts';
import { join, person, type Person } from './support/people.ts';
import { startPrivateKafka, type PrivateKafka } from './support/private-kafka.ts';
import { SERVICES, startSuite, type ServiceName, type Suite } from './support/suite.ts';

interface Task {
  id: string;
  key: string;
}
interface Notification {
  type: string;
  subject: { id: string };
}

// architecture.md §5 / issue 19: Kafka carries events between services, it does not serve requests.
// With the broker down, every service stays ready (degraded) and serves its own reads and writes;
// the outboxes hold the events and deliver them once the broker is back, and their backlog metric
// (architecture.md §8) shows it rise and fall.
describe('Kafka down: every service stays in rotation and serves its own reads and writes', () => {
  let kafka: PrivateKafka;
  let suite: Suite;
  let api: ApiClient;
  let alice: Person, bob: Person;
  let orgId: string, projectId: string;
  let before_: Task;
  /** Every line the services wrote (the suite keeps only the last 20 000 characters of each). */
  const lines: string[] = [];

  /** What `outbox_unsent_events` says in the service's `/metrics` (undefined when left out). */
  const unsent = async (name: ServiceName) => {
    const res = await fetch(suite.metricsUrls[name], { signal: AbortSignal.timeout(5_000) });
    return metricValue(await res.text(), 'outbox_unsent_events');
  };
  /** Services whose own writes below publish events; collab's outbox is MongoDB's. */
  const WRITERS: ServiceName[] = ['identity', 'governance', 'work', 'collab'];

  const readiness = async (url: string) => {
    const res = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(5_000) });
    return {
      status: res.status,
      body: (await res.json()) as { status: string; checks: Record<string, string> },
    };
  };

  before(async () => {
    kafka = await startPrivateKafka();
    suite = await startSuite({
      kafkaBrokers: kafka.brokers,
      onOutput: (_name, chunk) => lines.push(...chunk.split('\n')),
    });
    api = apiClient(suite.gatewayUrl);
    [alice, bob] = (await Promise.all(['Alice Outage', 'Bob Outage'].map((n) => person(api, n)))) as [
      Person,
      Person,
    ];
    const org = await api.post<{ id: string }>(
      '/orgs',
      { name: `Outage ${randomUUID().slice(0, 6)}` },
      alice.token,
    );
    assert.equal(org.status, 201);
    orgId = org.body.id;
    await join(api, orgId, alice, bob, 'MEMBER');
    const project = await api.post<{ id: string }>(
      '/projects',
      { orgId, name: 'Outage', key: 'OUT' },
      alice.token,
    );
    assert.equal(project.status, 201);
    projectId = project.body.id;
    const added = await api.post(
      `/projects/${projectId}/members`,
      { userId: bob.id, role: 'CONTRIBUTOR' },
      alice.token,
    );
    assert.equal(added.status, 201, JSON.stringify(added.body));
    const task = await api.post<Task>(
      `/projects/${projectId}/tasks`,
      { title: 'Before the outage' },
      alice.token,
    );
    assert.equal(task.status, 201);
    before_ = task.body;
    // collab knows the task (its projection) before the broker goes.
    await waitFor(
      async () =>
        (await api.post('/comments', { taskId: before_.id, body: 'warm-up' }, alice.token)).status === 201,
      { what: 'collab to know the task', timeoutMs: 30_000, intervalMs: 250 },
    );
  });

  after(async () => {
    await suite?.close();
    await kafka?.close();
  });

  test('broker killed → ready (degraded) everywhere, writes and reads answer; back → the held events arrive', async () => {
    await kafka.kill();

    for (const name of SERVICES) {
      const ready = await waitFor(
        async () => {
          const state = await readiness(suite.urls[name]);
          return state.body.checks.kafka === 'down' ? state : undefined;
        },
        { what: `${name} to notice the broker is gone`, timeoutMs: 30_000, intervalMs: 250 },
      );
      assert.equal(ready.status, 200, `${name}: ${JSON.stringify(ready.body)}`);
      assert.equal(ready.body.status, 'degraded', name);
    }
    const health = await fetch(`${suite.gatewayUrl}/health`);
    assert.equal(health.status, 200);
    const aggregate = (await health.json()) as { status: string; services: Record<string, string> };
    assert.equal(aggregate.status, 'degraded');
    assert.ok(
      Object.values(aggregate.services).every((state) => state === 'degraded'),
      JSON.stringify(aggregate),
    );

    // Each service's own writes and reads, through the gateway.
    const renamed = await api.patch('/users/me', { name: 'Alice Offline' }, alice.token);
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    const team = await api.post(`/orgs/${orgId}/teams`, { name: 'Offline team' }, alice.token);
    assert.equal(team.status, 201, JSON.stringify(team.body));
    assert.equal((await api.get(`/orgs/${orgId}/teams`, alice.token)).status, 200);
    const during = await api.post<Task>(
      `/projects/${projectId}/tasks`,
      { title: 'During the outage', assigneeId: bob.id },
      alice.token,
    );
    assert.equal(during.status, 201, JSON.stringify(during.body));
    const moved = await api.patch(`/tasks/${before_.id}`, { status: 'IN_PROGRESS' }, alice.token);
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    assert.equal((await api.get(`/projects/${projectId}/tasks`, alice.token)).status, 200);
    const comment = await api.post('/comments', { taskId: before_.id, body: 'Still here' }, alice.token);
    assert.equal(comment.status, 201, JSON.stringify(comment.body));
    assert.equal((await api.get(`/comments?taskId=${before_.id}`, alice.token)).status, 200);
    const preferences = await api.call('PUT', '/notifications/preferences', {
      body: { inApp: {}, email: {} },
      token: bob.token,
    });
    assert.equal(preferences.status, 200, JSON.stringify(preferences.body));
    assert.equal((await api.get('/notifications', bob.token)).status, 200);

    // The writes' events wait in each writer's outbox, and its metric says so.
    for (const name of WRITERS) {
      const held = await waitFor(async () => ((await unsent(name)) ?? 0) > 0 && unsent(name), {
        what: `${name}'s outbox backlog to show`,
        timeoutMs: 20_000,
        intervalMs: 500,
      });
      assert.ok(held >= 1, `${name}: ${held} unsent`);
    }
    // A refused connection is logged with its error code, not "[redacted]" (architecture.md §8): the
    // relay's error once kafkajs gives up names the ECONNREFUSED it gave up on.
    const named = await waitFor(
      () => lines.find((line) => line.includes('"level":50') && line.includes('"code":"ECONNREFUSED"')),
      { what: 'an error log with code ECONNREFUSED', timeoutMs: 30_000, intervalMs: 250 },
    );
    assert.match(named, /"err":\{/);
    assert.ok(!lines.some((line) => line.includes('"code":"[redacted]"')), 'no error code is redacted');

    // Back: the outbox delivers what it held, and notify tells Bob about the task made meanwhile.
    await kafka.start();
    const assigned = await waitFor(
      async () => {
        const res = await api.get<{ items: Notification[] }>('/notifications?limit=100', bob.token);
        const found = res.body.items.filter(
          (n) => n.type === 'task.assigned' && n.subject.id === during.body.id,
        );
        return found.length > 0 ? found : undefined;
      },
      { what: 'the assignment made during the outage', timeoutMs: 60_000, intervalMs: 500 },
    );
    assert.equal(assigned.length, 1);
    for (const name of WRITERS)
      await waitFor(async () => (await unsent(name)) === 0, {
        what: `${name}'s outbox backlog back to 0`,
        timeoutMs: 60_000,
        intervalMs: 500,
      }).catch((err: unknown) => {
        throw new Error(
          `${(err as Error).message}; ${name}'s last output:\n${suite.logs(name).slice(-4_000)}`,
        );
      });
    for (const name of SERVICES) {
      const ready = await waitFor(
        async () => {
          const state = await readiness(suite.urls[name]);
          return state.body.status === 'ok' ? state : undefined;
        },
        { what: `${name} to be ok again`, timeoutMs: 30_000, intervalMs: 250 },
      );
      assert.equal(ready.status, 200);
    }
  });
});
