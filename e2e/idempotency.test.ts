import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '@trellis/shared/testing';
import { apiClient, assertProblem, type ApiClient, type ApiResponse } from './support/client.ts';
import { person, type Person } from './support/people.ts';
import { startSuite, type Suite } from './support/suite.ts';

type Body = Record<string, unknown>;
interface Page {
  items: Body[];
}

describe('Idempotency-Key on creates (api.md §1), through the gateway', () => {
  let suite: Suite;
  let api: ApiClient;
  let owner: Person;
  let orgId: string;
  let projectId: string;
  let taskId: string;
  let channelId: string;

  const post = (path: string, body: Body, key: string, who = owner) =>
    api.call<Body>('POST', path, { body, token: who.token, headers: { 'idempotency-key': key } });

  /**
   * The same key twice → one resource and the identical answer, replayed; another body with that
   * key → 422; `count` says how many resources the list shows afterwards.
   */
  async function onceOnly(path: string, body: Body, other: Body, count: () => Promise<number>) {
    const key = randomUUID();
    const first = await post(path, body, key);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(first.headers.get('idempotency-replayed'), null);
    const again = await post(path, body, key);
    assert.equal(again.status, 201);
    assert.equal(again.headers.get('idempotency-replayed'), 'true');
    assert.deepEqual(again.body, first.body);
    for (const header of ['location', 'etag', 'content-type'])
      assert.equal(again.headers.get(header), first.headers.get(header), header);
    assertProblem(await post(path, other, key), 422, 'IDEMPOTENCY_KEY_REUSED');
    assert.equal(await count(), 1);
    return first.body;
  }

  const items = async (path: string) => {
    const res = await api.get<Page | Body[]>(path, owner.token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return Array.isArray(res.body) ? res.body : res.body.items;
  };
  const countWhere = async (path: string, field: string, value: unknown) =>
    (await items(path)).filter((item) => item[field] === value).length;

  before(async () => {
    suite = await startSuite();
    api = apiClient(suite.gatewayUrl);
    owner = await person(api, 'Ida Empotent');
  });

  after(() => suite?.close());

  test('org, team, project, task, invitation: one resource per key, the answer replayed', async () => {
    const orgName = `Once ${randomUUID().slice(0, 6)}`;
    const org = await onceOnly('/orgs', { name: orgName }, { name: `${orgName} 2` }, () =>
      countWhere('/orgs', 'name', orgName),
    );
    orgId = String(org.id);
    await onceOnly(`/orgs/${orgId}/teams`, { name: 'Core team' }, { name: 'Other team' }, () =>
      countWhere(`/orgs/${orgId}/teams`, 'name', 'Core team'),
    );
    const project = await onceOnly(
      '/projects',
      { orgId, name: 'Once', key: 'ONCE' },
      { orgId, name: 'Twice', key: 'TWICE' },
      () => countWhere(`/projects?orgId=${orgId}`, 'key', 'ONCE'),
    );
    projectId = String(project.id);
    const task = await onceOnly(
      `/projects/${projectId}/tasks`,
      { title: 'Only once' },
      { title: 'Other' },
      () => countWhere(`/projects/${projectId}/tasks?limit=100`, 'title', 'Only once'),
    );
    taskId = String(task.id);
    const email = `invitee-${randomUUID().slice(0, 8)}@example.test`;
    await onceOnly(
      `/orgs/${orgId}/invitations`,
      { email, role: 'MEMBER' },
      { email: `x-${email}`, role: 'MEMBER' },
      () => countWhere(`/orgs/${orgId}/invitations`, 'email', email),
    );
  });

  test('comment and chat message: one resource per key', async () => {
    await onceOnly('/comments', { taskId, body: 'said once' }, { taskId, body: 'said twice' }, () =>
      countWhere(`/comments?taskId=${taskId}`, 'body', 'said once'),
    );
    const channels = await waitFor(
      async () => {
        const list = await items(`/channels?orgId=${orgId}`);
        return list.find((c) => c.scope === 'org');
      },
      { what: 'the org channel' },
    );
    channelId = String(channels.id);
    await onceOnly(`/channels/${channelId}/messages`, { body: 'hello once' }, { body: 'hello twice' }, () =>
      countWhere(`/channels/${channelId}/messages`, 'body', 'hello once'),
    );
  });

  test('20 identical requests at once with one key: exactly one task, the others replayed or told to wait', async () => {
    const key = randomUUID();
    const answers: ApiResponse<Body>[] = await Promise.all(
      Array.from({ length: 20 }, () => post(`/projects/${projectId}/tasks`, { title: 'Raced' }, key)),
    );
    const created = answers.filter((a) => a.status === 201);
    assert.ok(created.length >= 1);
    assert.equal(new Set(created.map((a) => a.body.id)).size, 1, 'one task id in every 201');
    for (const a of answers.filter((x) => x.status !== 201)) assertProblem(a, 409, 'IDEMPOTENCY_IN_PROGRESS');
    assert.equal(await countWhere(`/projects/${projectId}/tasks?limit=100`, 'title', 'Raced'), 1);
    // Once it is done, the key answers with the stored 201.
    const later = await post(`/projects/${projectId}/tasks`, { title: 'Raced' }, key);
    assert.equal(later.status, 201);
    assert.equal(later.headers.get('idempotency-replayed'), 'true');
  });

  test('keys are per caller; an over-long key is 400; an invalid body is refused before the key is kept', async () => {
    const other = await person(api, 'Oscar Other');
    const key = randomUUID();
    const mine = await post('/orgs', { name: 'Mine' }, key);
    const theirs = await post('/orgs', { name: 'Mine' }, key, other);
    assert.equal(mine.status, 201);
    assert.equal(theirs.status, 201);
    assert.notEqual(mine.body.id, theirs.body.id);
    assertProblem(await post('/orgs', { name: 'Long' }, 'k'.repeat(256)), 400, 'VALIDATION_FAILED');
    const badKey = randomUUID();
    const refused = await post(`/projects/${projectId}/tasks`, { title: '' }, badKey);
    assert.equal(refused.status, 400);
    const refusedAgain = await post(`/projects/${projectId}/tasks`, { title: '' }, badKey);
    assert.equal(refusedAgain.status, 400);
  });
});
