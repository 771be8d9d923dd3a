import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { waitFor, WebhookReceiver } from '@trellis/shared/testing';
import { apiClient, assertProblem, type ApiClient } from './support/client.ts';
import { join, person, type Person } from './support/people.ts';
import { startSuite, type Suite } from './support/suite.ts';

interface Delivery {
  id: string;
  state: string;
  attempts: { status: number | null }[];
}

describe('webhooks and the event feed through the gateway', () => {
  let suite: Suite;
  let api: ApiClient;
  let receiver: WebhookReceiver;
  let base: string;
  let owner: Person, admin: Person, member: Person;
  let orgId: string;
  let projectId: string;
  let hookId: string;

  const createTask = async (title: string) => {
    const res = await api.post<{ id: string }>(`/projects/${projectId}/tasks`, { title }, owner.token);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id;
  };
  const deliveries = async (id: string) =>
    (await api.get<{ items: Delivery[] }>(`/webhooks/${id}/deliveries`, admin.token)).body.items;

  before(async () => {
    suite = await startSuite({
      env: {
        notify: {
          WEBHOOK_ALLOW_HTTP: 'true',
          WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
          WEBHOOK_RETRY_SCHEDULE: '2s,2s,2s,2s',
          WEBHOOK_TIMEOUT_MS: '2000',
        },
      },
    });
    api = apiClient(suite.gatewayUrl);
    receiver = new WebhookReceiver();
    base = await receiver.start();
    [owner, admin, member] = (await Promise.all(
      ['Wendy Owner', 'Walt Admin', 'Will Member'].map((n) => person(api, n)),
    )) as [Person, Person, Person];
    const org = await api.post<{ id: string }>(
      '/orgs',
      { name: `Hooks ${randomUUID().slice(0, 6)}` },
      owner.token,
    );
    assert.equal(org.status, 201);
    orgId = org.body.id;
    await join(api, orgId, owner, admin, 'ADMIN');
    await join(api, orgId, owner, member, 'MEMBER');
    const project = await api.post<{ id: string }>(
      '/projects',
      { orgId, name: 'Hooks', key: 'HOOK' },
      owner.token,
    );
    assert.equal(project.status, 201);
    projectId = project.body.id;
  });

  after(async () => {
    await suite?.close();
    await receiver?.close();
  });

  test('an ADMIN subscribes (a MEMBER is denied); task events arrive signed, once each, and the feed agrees', async () => {
    const denied = await api.post(
      `/orgs/${orgId}/webhooks`,
      { url: `${base}/tasks`, events: ['task.*'] },
      member.token,
    );
    assertProblem(denied, 403, 'POLICY_DENIED');
    const created = await api.post<{ id: string; secret: string }>(
      `/orgs/${orgId}/webhooks`,
      { url: `${base}/tasks`, events: ['task.*'], description: 'CI bot' },
      admin.token,
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.headers.get('location'), `/api/v1/webhooks/${created.body.id}`);
    assert.match(created.body.secret, /^whsec_/);
    receiver.secrets.set('/tasks', created.body.secret);
    hookId = created.body.id;

    const tasks = [await createTask('One'), await createTask('Two')];
    const moved = await api.patch(`/tasks/${tasks[0]}`, { status: 'IN_PROGRESS' }, owner.token);
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    const got = await waitFor(() => (receiver.at('/tasks').length >= 3 ? receiver.at('/tasks') : undefined), {
      what: 'three deliveries',
      timeoutMs: 30_000,
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(receiver.at('/tasks').length, 3, 'no duplicates');
    assert.deepEqual(
      got.filter((r) => r.event.subject.id === tasks[0]).map((r) => r.event.type),
      ['task.created', 'task.updated'],
      'in order for the task',
    );

    const feed = await api.get<{ items: { id: string }[]; position: string }>(
      `/orgs/${orgId}/events?types=task.*`,
      admin.token,
    );
    assert.equal(feed.status, 200, JSON.stringify(feed.body));
    assert.deepEqual(
      feed.body.items.map((e) => e.id),
      got.map((r) => r.event.id),
    );
    const all = await api.get<{ items: { type: string }[] }>(`/orgs/${orgId}/events?limit=200`, admin.token);
    for (const type of ['org.created', 'member.added', 'project.created', 'webhook.created'])
      assert.ok(
        all.body.items.some((e) => e.type === type),
        type,
      );
    assert.ok(!JSON.stringify(all.body).includes('whsec_'), 'no secret in the feed');
  });

  test('the webhook’s life enters the org’s audit log, never its secret', async () => {
    const rotated = await api.post<{ secret: string }>(
      `/webhooks/${hookId}/rotate-secret`,
      undefined,
      admin.token,
    );
    assert.equal(rotated.status, 200);
    const log = await waitFor(
      async () => {
        const res = await api.get<{ items: { type: string; summary: string }[] }>(
          `/orgs/${orgId}/audit?limit=100`,
          admin.token,
        );
        return res.body.items.some((e) => e.type === 'webhook.secretRotated') ? res.body : undefined;
      },
      { what: 'the audit entries', timeoutMs: 20_000 },
    );
    const text = JSON.stringify(log);
    // The target's origin only: receivers' paths often carry a credential.
    assert.ok(
      log.items.some((e) => e.type === 'webhook.created' && e.summary === `Webhook to ${base} created`),
    );
    assert.ok(!text.includes('/tasks'), 'no target path in the audit log');
    assert.ok(
      !text.includes('whsec_') && !text.includes(rotated.body.secret.slice(6)),
      'no secret in the audit log',
    );
  });

  test('notify SIGKILLed in the middle of a retry schedule: the delivery goes on after restart, no attempt twice', async () => {
    receiver.script('/crash', [500, 500, 200]);
    const created = await api.post<{ id: string; secret: string }>(
      `/orgs/${orgId}/webhooks`,
      { url: `${base}/crash`, events: ['task.created'] },
      admin.token,
    );
    assert.equal(created.status, 201);
    receiver.secrets.set('/crash', created.body.secret);
    await createTask('Crash');
    await waitFor(async () => (await deliveries(created.body.id))[0]?.attempts.length === 1, {
      what: 'the first failed attempt, logged',
      timeoutMs: 30_000,
    });
    await suite.kill('notify');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await suite.start('notify');
    const done = await waitFor(
      async () => {
        const [delivery] = await deliveries(created.body.id);
        return delivery?.state === 'SUCCEEDED' ? delivery : undefined;
      },
      { what: 'the delivery, completed after the restart', timeoutMs: 30_000 },
    );
    assert.deepEqual(
      done.attempts.map((a) => a.status),
      [500, 500, 200],
    );
    assert.deepEqual(
      receiver.at('/crash').map((r) => [r.id, r.answered]),
      [
        [done.id, 500],
        [done.id, 500],
        [done.id, 200],
      ],
    );
  });

  test('another org’s webhook is a 404; loopback and metadata targets are refused without the flags (see notify tests)', async () => {
    const outsider = await person(api, 'Otto Outsider');
    const other = await api.post<{ id: string }>(
      '/orgs',
      { name: `Other ${randomUUID().slice(0, 6)}` },
      outsider.token,
    );
    assert.equal(other.status, 201);
    assertProblem(await api.get(`/webhooks/${hookId}`, outsider.token), 404, 'NOT_FOUND');
    assertProblem(await api.get(`/orgs/${orgId}/webhooks`, outsider.token), 404, 'NOT_FOUND');
    assertProblem(await api.get(`/orgs/${orgId}/events`, outsider.token), 404, 'NOT_FOUND');
  });
});
