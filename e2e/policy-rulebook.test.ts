import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { catalogue } from '@trellis/shared';
import { waitFor } from '@trellis/shared/testing';
import { apiClient, assertProblem, type ApiClient, type ApiResponse } from './support/client.ts';
import { join, person, type Person } from './support/people.ts';
import { startSuite, type Suite } from './support/suite.ts';

// The rule book read back (GET /orgs/{id}/policy) and its explain, checked against what the API does:
// for random (action, user) pairs, `explain` must predict whether the real call is refused by policy.

interface Explanation extends Record<string, unknown> {
  userId: string;
  scope: string;
  action: string;
  allowed: boolean;
  requiredRole: string;
  effectiveRole: string | null;
  source: string;
  roleSource: string | null;
  bypass: boolean;
}

/** One action, done for real through the gateway by `who`; where says which team or project it is in. */
interface Probe {
  action: string;
  where: { teamId?: string; projectId?: string };
  run: (who: Person) => Promise<ApiResponse>;
}

/** A small seeded generator, so a failing draw can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('the rule book and its explain', () => {
  let suite: Suite;
  let api: ApiClient;
  let orgId: string, teamId: string, projectId: string, taskId: string;
  const people: Record<string, Person> = {};
  const seed = Number(process.env.POLICY_SEED ?? Date.now() % 100_000);

  before(async () => {
    suite = await startSuite();
    api = apiClient(suite.gatewayUrl);
    const names = ['owner', 'admin', 'manager', 'member', 'lead', 'viewer', 'pmanager', 'stranger'];
    for (const name of names) people[name] = await person(api, `Rule ${name}`);
    const { owner, admin, manager, member, lead, viewer, pmanager } = people as Record<string, Person>;
    const org = await api.post<{ id: string }>(
      '/orgs',
      { name: `Rules ${randomUUID().slice(0, 6)}` },
      owner!.token,
    );
    orgId = org.body.id;
    const plan = await api.patch(`/orgs/${orgId}/settings`, { plan: 'ENTERPRISE' }, owner!.token);
    assert.equal(plan.status, 200, JSON.stringify(plan.body));
    for (const [who, role] of [
      [admin, 'ADMIN'],
      [manager, 'MANAGER'],
      [member, 'MEMBER'],
      [lead, 'MEMBER'],
      [viewer, 'VIEWER'],
      [pmanager, 'MEMBER'],
    ] as const)
      await join(api, orgId, owner!, who!, role);
    const team = await api.post<{ id: string }>(`/orgs/${orgId}/teams`, { name: 'Core' }, owner!.token);
    teamId = team.body.id;
    for (const [who, role] of [
      [manager, 'LEAD'],
      [member, 'MEMBER'],
      [pmanager, 'MANAGER'],
    ] as const)
      assert.equal(
        (await api.post(`/teams/${teamId}/members`, { userId: who!.id, role }, owner!.token)).status,
        201,
      );
    const project = await waitFor(async () => {
      const res = await api.post<{ id: string }>(
        '/projects',
        { orgId, teamId, name: 'Rules', key: 'RULE' },
        owner!.token,
      );
      return res.status === 201 ? res.body : undefined;
    });
    projectId = project.id;
    for (const [who, role] of [
      [lead, 'LEAD'],
      [pmanager, 'MANAGER'],
    ] as const)
      assert.equal(
        (await api.post(`/projects/${projectId}/members`, { userId: who!.id, role }, owner!.token)).status,
        201,
      );
    const task = await api.post<{ id: string }>(
      `/projects/${projectId}/tasks`,
      { title: 'Probe' },
      owner!.token,
    );
    taskId = task.body.id;
  });

  after(() => suite?.close());

  const explain = (who: Person, query: Record<string, string>) =>
    api.get<Explanation>(`/orgs/${orgId}/policy/explain?${new URLSearchParams(query)}`, who.token);

  test('GET /orgs/{id}/policy lists every catalogue action with its threshold and where it comes from', async () => {
    const { owner, stranger } = people as Record<string, Person>;
    const set = await api.patch(
      `/orgs/${orgId}/settings`,
      { thresholds: { 'team.create': 'MEMBER' } },
      owner!.token,
    );
    assert.equal(set.status, 200);
    const book = await waitFor(async () => {
      const res = await api.get<{ items: Array<Record<string, unknown>> }>(
        `/orgs/${orgId}/policy`,
        owner!.token,
      );
      const teamCreate = res.body.items?.find((e) => e.scope === 'org' && e.action === 'team.create');
      return teamCreate?.threshold === 'MEMBER' ? res.body : undefined;
    });
    const listed = book.items.map((e) => `${e.scope}:${e.action}`).sort();
    const expected = catalogue()
      .map((e) => `${e.scope}:${e.action}`)
      .sort();
    assert.deepEqual(listed, expected);
    console.log(
      `# rule book: ${listed.length} actions, ${book.items.filter((e) => !e.configurable).length} fixed`,
    );
    const teamCreate = book.items.find((e) => e.scope === 'org' && e.action === 'team.create');
    assert.deepEqual(
      [teamCreate?.threshold, teamCreate?.source, teamCreate?.configurable],
      ['MEMBER', 'org', true],
    );
    const orgDelete = book.items.find((e) => e.action === 'org.delete');
    assert.deepEqual(
      [orgDelete?.threshold, orgDelete?.source, orgDelete?.configurable],
      ['OWNER', 'system', false],
    );
    assert.equal((await api.get(`/orgs/${orgId}/policy`, stranger!.token)).status, 404);
    // Back to the default, so the random pairs below run on system defaults and one project.
    await api.patch(`/orgs/${orgId}/settings`, { thresholds: { 'team.create': null } }, owner!.token);
  });

  test("explain: one's own decisions for anyone, someone else's for policy.explain (ADMIN); bad input is 422", async () => {
    const { member, admin, viewer } = people as Record<string, Person>;
    const own = await explain(member!, { action: 'task.create', projectId });
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.deepEqual(
      { ...own.body, userId: undefined },
      {
        userId: undefined,
        scope: 'project',
        action: 'task.create',
        allowed: true,
        requiredRole: 'CONTRIBUTOR',
        effectiveRole: 'CONTRIBUTOR',
        source: 'system',
        roleSource: 'team',
        bypass: false,
      },
    );
    const denied = await explain(member!, { action: 'task.create', projectId, userId: viewer!.id });
    assertProblem(denied, 403, 'POLICY_DENIED');
    assert.equal((denied.body as unknown as { policy: { action: string } }).policy.action, 'policy.explain');
    const forViewer = await explain(admin!, { action: 'task.create', projectId, userId: viewer!.id });
    assert.deepEqual(
      [forViewer.body.allowed, forViewer.body.effectiveRole, forViewer.body.roleSource],
      [false, 'VIEWER', 'org'],
    );
    assertProblem(await explain(admin!, { action: 'task.fly' }), 422, 'VALIDATION_FAILED');
    assertProblem(await explain(admin!, { action: 'task.create' }), 422, 'VALIDATION_FAILED');
  });

  test('explain agrees with the API on 50 random (action, user) pairs', async () => {
    const probes = buildProbes();
    const users = ['owner', 'admin', 'manager', 'member', 'lead', 'viewer', 'pmanager'];
    // collab and work learn the memberships through events: wait until both see the last of them.
    await waitFor(async () => {
      const res = await api.post('/comments', { taskId, body: 'ready?' }, people.lead!.token);
      return res.status === 201 || undefined;
    });
    const next = random(seed);
    const seen: string[] = [];
    for (let i = 0; i < 50; i++) {
      const probe = probes[Math.floor(next() * probes.length)]!;
      const name = users[Math.floor(next() * users.length)]!;
      const who = people[name]!;
      const predicted = await explain(people.owner!, {
        action: probe.action,
        userId: who.id,
        ...probe.where,
      });
      assert.equal(predicted.status, 200, JSON.stringify(predicted.body));
      const res = await probe.run(who);
      assert.ok(res.status < 500, `${probe.action} as ${name}: ${res.status} ${JSON.stringify(res.body)}`);
      const refused = res.status === 403 && res.body.code === 'POLICY_DENIED';
      assert.equal(
        !refused,
        predicted.body.allowed,
        `seed ${seed}: ${probe.action} as ${name}: explain ${JSON.stringify(predicted.body)}, API ${res.status} ${JSON.stringify(res.body)}`,
      );
      if (refused) {
        const policy = (res.body as { policy?: { requiredRole: string; yourRole: string | null } }).policy;
        assert.deepEqual(
          [policy?.requiredRole, policy?.yourRole],
          [predicted.body.requiredRole, predicted.body.effectiveRole],
        );
      }
      seen.push(`${probe.action}/${name}=${refused ? 'denied' : res.status}`);
    }
    console.log(`# seed ${seed}: ${seen.join(' ')}`);
  });

  function buildProbes(): Probe[] {
    const owner = people.owner!;
    const unique = () => randomUUID().slice(0, 8);
    const newTask = async () =>
      (
        await api.post<{ id: string }>(
          `/projects/${projectId}/tasks`,
          { title: `T ${unique()}` },
          owner.token,
        )
      ).body.id;
    const inProject = { projectId };
    const inTeam = { teamId };
    return [
      {
        action: 'team.create',
        where: {},
        run: (w) => api.post(`/orgs/${orgId}/teams`, { name: `T ${unique()}` }, w.token),
      },
      {
        action: 'member.invite',
        where: {},
        run: (w) =>
          api.post(
            `/orgs/${orgId}/invitations`,
            { email: `${unique()}@example.test`, role: 'VIEWER' },
            w.token,
          ),
      },
      {
        action: 'announcement.post',
        where: {},
        run: (w) => api.post('/announcements', { orgId, title: 'Hello', body: 'World' }, w.token),
      },
      { action: 'audit.read', where: {}, run: (w) => api.get(`/orgs/${orgId}/audit`, w.token) },
      { action: 'webhook.manage', where: {}, run: (w) => api.get(`/orgs/${orgId}/webhooks`, w.token) },
      {
        action: 'org.update',
        where: {},
        run: (w) => api.patch(`/orgs/${orgId}`, { name: `Rules ${unique()}` }, w.token),
      },
      { action: 'settings.update', where: {}, run: (w) => api.patch(`/orgs/${orgId}/settings`, {}, w.token) },
      {
        action: 'team.update',
        where: inTeam,
        run: (w) => api.patch(`/teams/${teamId}`, { name: `Core ${unique()}` }, w.token),
      },
      {
        action: 'settings.update',
        where: inTeam,
        run: (w) => api.patch(`/teams/${teamId}/settings`, {}, w.token),
      },
      {
        action: 'task.create',
        where: inProject,
        run: (w) => api.post(`/projects/${projectId}/tasks`, { title: 'x' }, w.token),
      },
      {
        action: 'task.delete',
        where: inProject,
        run: async (w) => api.delete(`/tasks/${await newTask()}`, w.token),
      },
      {
        action: 'comment.create',
        where: inProject,
        run: (w) => api.post('/comments', { taskId, body: 'Noted' }, w.token),
      },
      {
        action: 'sprint.manage',
        where: inProject,
        run: (w) =>
          api.post(
            `/projects/${projectId}/sprints`,
            { name: `S ${unique()}`, startDate: '2026-12-07', endDate: '2026-12-21' },
            w.token,
          ),
      },
      {
        action: 'project.update',
        where: inProject,
        run: (w) => api.patch(`/projects/${projectId}`, { name: 'Rules' }, w.token),
      },
      {
        action: 'settings.update',
        where: inProject,
        run: (w) => api.patch(`/projects/${projectId}/settings`, {}, w.token),
      },
    ];
  }
});
