import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '@trellis/shared/testing';
import { pages, TrellisProblem, unwrap, type operations } from '../clients/typescript/src/index.ts';
import { apiClient, assertProblem, type ApiClient } from './support/client.ts';
import { clientOf, join, person, type Person } from './support/people.ts';
import { startSuite, type Suite } from './support/suite.ts';

interface Project {
  id: string;
  key: string;
  orgId: string;
  myRole: string;
}
interface Task {
  id: string;
  key: string;
  number: number;
  title: string;
  status: string;
}
interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
type NewTask = NonNullable<operations['createProjectTask']['requestBody']>['content']['application/json'];

// The journey's creates and its paged reads go through @trellis/client, as an integrator's would;
// the checks of exact answers (problems, headers) through the plain client.

describe('work through the gateway', () => {
  let suite: Suite;
  let api: ApiClient;
  let owner: Person, admin: Person, member: Person, contributor: Person, stranger: Person;
  let orgId: string;
  let project: Project;

  const newProject = async (who: Person, key: string): Promise<Project> => {
    const created = await unwrap(
      clientOf(api, who).api.POST('/api/v1/projects', { body: { orgId, name: `Project ${key}`, key } }),
    );
    assert.ok('key' in created, 'created at once, no approval asked');
    return created;
  };
  const createTask = async (who: Person, body: NewTask, projectId = project.id): Promise<Task> =>
    unwrap(
      clientOf(api, who).api.POST('/api/v1/projects/{id}/tasks', {
        params: { path: { id: projectId } },
        body,
      }),
    );

  before(async () => {
    suite = await startSuite();
    api = apiClient(suite.gatewayUrl);
    [owner, admin, member, contributor, stranger] = (await Promise.all(
      ['Olive Owner', 'Adam Admin', 'Max Member', 'Cora Contributor', 'Sid Stranger'].map((n) =>
        person(api, n),
      ),
    )) as [Person, Person, Person, Person, Person];
    const org = await unwrap(
      clientOf(api, owner).api.POST('/api/v1/orgs', { body: { name: `Works ${randomUUID().slice(0, 6)}` } }),
    );
    orgId = org.id;
    await join(api, orgId, owner, admin, 'ADMIN');
    await join(api, orgId, owner, member, 'MEMBER');
    await join(api, orgId, owner, contributor, 'MEMBER');
  });

  after(() => suite?.close());

  test('the owner and an ADMIN (project MANAGER) create projects; a plain MEMBER cannot by default', async () => {
    project = await newProject(owner, 'CORE');
    assert.equal(project.myRole, 'OWNER');
    const byAdmin = await newProject(admin, 'OPS');
    assert.equal(byAdmin.myRole, 'OWNER');
    const denied = await unwrap(
      clientOf(api, member).api.POST('/api/v1/projects', { body: { orgId, name: 'Nope', key: 'NOPE' } }),
    ).catch((error: unknown) => error);
    assert.ok(denied instanceof TrellisProblem, String(denied));
    assert.equal(denied.status, 403);
    assert.equal(denied.code, 'POLICY_DENIED');
    assert.deepEqual(denied.policy, {
      scope: 'org',
      action: 'project.create',
      requiredRole: 'ADMIN',
      yourRole: 'MEMBER',
    });
  });

  test('lists hold only what the caller may see; an unrelated user gets an empty list and 404s', async () => {
    const seenByMember = await api.get<Page<Project>>(`/projects?orgId=${orgId}`, member.token);
    assert.deepEqual(seenByMember.body.items.map((p) => p.key).sort(), ['CORE', 'OPS']);
    assert.equal(seenByMember.body.items.find((p) => p.key === 'CORE')?.myRole, 'VIEWER');
    const seenByStranger = await api.get<Page<Project>>(`/projects?orgId=${orgId}`, stranger.token);
    assert.deepEqual(seenByStranger.body.items, []);
    assertProblem(await api.get(`/projects/${project.id}`, stranger.token), 404, 'NOT_FOUND');
    assertProblem(await api.get(`/projects/${project.id}/tasks`, stranger.token), 404, 'NOT_FOUND');
  });

  test('50 concurrent creates get CORE-1 … CORE-50, each once', async () => {
    const created = await Promise.all(
      Array.from({ length: 50 }, (_, i) => createTask(owner, { title: `Concurrent task ${i}` })),
    );
    const numbers = created.map((t) => t.number).sort((a, b) => a - b);
    assert.deepEqual(
      numbers,
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    assert.deepEqual(new Set(created.map((t) => t.key)).size, 50);
    assert.ok(created.every((t) => t.key === `CORE-${t.number}`));
    // Every one of them, once, page by page (20 a page), through the SDK's page iterator.
    const listed: number[] = [];
    for await (const task of pages((cursor) =>
      unwrap(
        clientOf(api, member).api.GET('/api/v1/projects/{id}/tasks', {
          params: { path: { id: project.id }, query: { limit: 20, cursor } },
        }),
      ),
    ))
      listed.push(task.number);
    assert.deepEqual(
      listed.sort((a, b) => a - b),
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    const lookup = await api.get<Task>(`/tasks/lookup?orgId=${orgId}&key=CORE-17`, member.token);
    assert.equal(lookup.status, 200);
    assert.equal(lookup.body.number, 17);
  });

  test('filtering by status and q returns exactly the matching tasks', async () => {
    const p = await newProject(owner, 'FIND');
    const a = await createTask(owner, { title: 'Fix the login flicker', status: 'IN_PROGRESS' }, p.id);
    const b = await createTask(
      owner,
      { title: 'Write onboarding docs', description: 'login screenshots' },
      p.id,
    );
    const c = await createTask(owner, { title: 'Tune the database', status: 'DONE' }, p.id);
    const byStatus = await api.get<Page<Task>>(
      `/projects/${p.id}/tasks?status=IN_PROGRESS,DONE`,
      owner.token,
    );
    assert.deepEqual(byStatus.body.items.map((t) => t.id).sort(), [a.id, c.id].sort());
    const byText = await api.get<Page<Task>>(`/projects/${p.id}/tasks?q=login`, owner.token);
    assert.deepEqual(byText.body.items.map((t) => t.id).sort(), [a.id, b.id].sort());
    const both = await api.get<Page<Task>>(`/projects/${p.id}/tasks?q=login&status=TODO`, owner.token);
    assert.deepEqual(
      both.body.items.map((t) => t.id),
      [b.id],
    );
  });

  test('a CONTRIBUTOR can PATCH title and status; a MANAGER deletes and the task leaves every list', async () => {
    const added = await api.post(
      `/projects/${project.id}/members`,
      { userId: contributor.id, role: 'CONTRIBUTOR' },
      owner.token,
    );
    assert.equal(added.status, 201, JSON.stringify(added.body));
    const task = await createTask(owner, { title: 'Polish the dashboard' });
    const patched = await api.patch<Task>(
      `/tasks/${task.id}`,
      { title: 'Polish the dashboard, again', status: 'IN_REVIEW' },
      contributor.token,
    );
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.body.status, 'IN_REVIEW');
    const activity = await api.get<Page<{ field: string; from: unknown; to: unknown }>>(
      `/tasks/${task.id}/activity`,
      owner.token,
    );
    assert.ok(
      activity.body.items.some((a) => a.field === 'status' && a.from === 'TODO' && a.to === 'IN_REVIEW'),
    );

    assertProblem(await api.delete(`/tasks/${task.id}`, contributor.token), 403, 'POLICY_DENIED');
    assert.equal(
      (await api.delete(`/tasks/${task.id}`, admin.token)).status,
      204,
      'an org ADMIN is a project MANAGER',
    );
    assertProblem(await api.get(`/tasks/${task.id}`, owner.token), 404, 'NOT_FOUND');
    const list = await api.get<Page<Task>>(`/projects/${project.id}/tasks?limit=100`, owner.token);
    assert.equal(
      list.body.items.some((t) => t.id === task.id),
      false,
    );
  });

  test('creator/assignee override task.update; onlyAssigneeCanUpdateTask narrows it to the assignee and MANAGER+', async () => {
    const p = await newProject(owner, 'RULES');
    const writer = await person(api, 'Wes Writer');
    await join(api, orgId, owner, writer, 'MEMBER');
    for (const who of [writer, contributor]) {
      const added = await api.post(
        `/projects/${p.id}/members`,
        { userId: who.id, role: 'CONTRIBUTOR' },
        owner.token,
      );
      assert.equal(added.status, 201, JSON.stringify(added.body));
    }
    const raised = await api.patch(
      `/projects/${p.id}/settings`,
      { thresholds: { 'task.update': 'LEAD' } },
      owner.token,
    );
    assert.equal(raised.status, 200, JSON.stringify(raised.body));
    const ownTask = await createTask(writer, { title: 'Mine' }, p.id);
    const assigned = await createTask(owner, { title: 'Theirs', assigneeId: contributor.id }, p.id);
    const unrelated = await createTask(owner, { title: 'Nobody’s' }, p.id);

    assert.equal(
      (await api.patch(`/tasks/${ownTask.id}`, { title: 'Mine, edited' }, writer.token)).status,
      200,
      'creator',
    );
    assert.equal(
      (await api.patch(`/tasks/${assigned.id}`, { status: 'IN_PROGRESS' }, contributor.token)).status,
      200,
      'assignee',
    );
    assertProblem(
      await api.patch(`/tasks/${unrelated.id}`, { title: 'x' }, writer.token),
      403,
      'POLICY_DENIED',
    );

    const strict = await api.patch(
      `/projects/${p.id}/settings`,
      { onlyAssigneeCanUpdateTask: true },
      owner.token,
    );
    assert.equal(strict.status, 200, JSON.stringify(strict.body));
    assert.equal(
      (await api.patch(`/tasks/${ownTask.id}`, { title: 'again' }, writer.token)).status,
      403,
      'creator no longer',
    );
    assert.equal(
      (await api.patch(`/tasks/${assigned.id}`, { status: 'DONE' }, contributor.token)).status,
      200,
      'assignee still',
    );
    assert.equal(
      (await api.patch(`/tasks/${ownTask.id}`, { title: 'by a manager' }, admin.token)).status,
      200,
      'MANAGER+',
    );
  });

  test('a sprint journey: the report and burndown match a hand calculation', async () => {
    const p = await newProject(owner, 'SPRNT');
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    const sprint = async (name: string) => {
      const res = await api.post<{ id: string }>(
        `/projects/${p.id}/sprints`,
        { name, startDate: day(0), endDate: day(4) },
        owner.token,
      );
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.id;
    };
    const [s1, s2] = [await sprint('Sprint 1'), await sprint('Sprint 2')];
    const a = await createTask(owner, { title: 'A', sprintId: s1, estimate: 3 }, p.id);
    const b = await createTask(owner, { title: 'B', sprintId: s1, estimate: 5 }, p.id);
    const c = await createTask(owner, { title: 'C', sprintId: s1, estimate: 2 }, p.id);
    const started = await api.post<{ committedPoints: number }>(`/sprints/${s1}/start`, {}, owner.token);
    assert.equal(started.status, 200, JSON.stringify(started.body));
    assert.equal(started.body.committedPoints, 10);
    assertProblem(await api.post(`/sprints/${s2}/start`, {}, owner.token), 409, 'CONFLICT');

    assert.equal((await api.patch(`/tasks/${a.id}`, { status: 'DONE' }, owner.token)).status, 200); // done 3
    const d = await createTask(owner, { title: 'D', sprintId: s1, estimate: 4 }, p.id); // added 4
    assert.equal((await api.patch(`/tasks/${c.id}`, { sprintId: null }, owner.token)).status, 200); // removed 2
    const completed = await api.post(`/sprints/${s1}/complete`, { moveOpenTasksTo: s2 }, owner.token);
    assert.equal(completed.status, 200, JSON.stringify(completed.body));
    for (const t of [b, d])
      assert.equal((await api.get<{ sprintId: string }>(`/tasks/${t.id}`, owner.token)).body.sprintId, s2);

    // By hand: committed A3+B5+C2 = 10; completed A = 3; added D = 4; removed C = 2; one day so far:
    // remaining at completion B5 + D4 = 9; ideal on day 1 of 5 = 10.
    const report = await api.get(`/sprints/${s1}/report`, owner.token);
    assert.deepEqual(report.body, {
      committedPoints: 10,
      completedPoints: 3,
      addedPoints: 4,
      removedPoints: 2,
      burndown: [{ date: day(0), remainingPoints: 9, idealPoints: 10 }],
    });
    const velocity = await api.get(`/projects/${p.id}/velocity?last=5`, owner.token);
    assert.deepEqual(velocity.body, {
      sprints: [{ id: s1, name: 'Sprint 1', committedPoints: 10, completedPoints: 3 }],
      averageCompleted: 3,
    });
    assertProblem(
      await api.post(
        `/projects/${p.id}/sprints`,
        { name: 'x', startDate: day(0), endDate: day(1) },
        member.token,
      ),
      403,
      'POLICY_DENIED',
    );
  });

  test('project ownership transfer: owner only, to an explicit member; old owner MANAGER, new owner OWNER', async () => {
    const p = await newProject(admin, 'HAND');
    assertProblem(
      await api.post(`/projects/${p.id}/transfer-ownership`, { userId: contributor.id }, admin.token),
      422,
      'VALIDATION_FAILED',
    );
    const added = await api.post(
      `/projects/${p.id}/members`,
      { userId: contributor.id, role: 'CONTRIBUTOR' },
      admin.token,
    );
    assert.equal(added.status, 201, JSON.stringify(added.body));
    const denied = await api.post(
      `/projects/${p.id}/transfer-ownership`,
      { userId: contributor.id },
      contributor.token,
    );
    assertProblem(denied, 403, 'POLICY_DENIED');
    assert.deepEqual(denied.body.policy, {
      scope: 'project',
      action: 'project.transferOwnership',
      requiredRole: 'OWNER',
      yourRole: 'CONTRIBUTOR',
    });
    const moved = await api.post<Project & { ownerId: string }>(
      `/projects/${p.id}/transfer-ownership`,
      { userId: contributor.id },
      admin.token,
    );
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    assert.equal(moved.body.ownerId, contributor.id);
    assert.equal(moved.body.myRole, 'MANAGER');
    const seenByNew = await api.get<Project>(`/projects/${p.id}`, contributor.token);
    assert.equal(seenByNew.body.myRole, 'OWNER');
    const members = await api.get<Page<{ userId: string; role: string; source: string }>>(
      `/projects/${p.id}/members`,
      admin.token,
    );
    const explicit = Object.fromEntries(
      members.body.items.filter((m) => m.source === 'explicit').map((m) => [m.userId, m.role]),
    );
    assert.equal(explicit[contributor.id], 'OWNER');
    assert.equal(explicit[admin.id], 'MANAGER');
  });

  test('a user removed from the org loses access within a second', async () => {
    const leaving = await person(api, 'Lee Leaving');
    await join(api, orgId, owner, leaving, 'MEMBER');
    assert.equal((await api.get(`/projects/${project.id}`, leaving.token)).status, 200);
    // A read-only route, whose access decision work may reuse for a moment (its access memo).
    const tasks = `/projects/${project.id}/tasks`;
    assert.equal((await api.get(tasks, leaving.token)).status, 200);
    assert.equal((await api.delete(`/orgs/${orgId}/members/${leaving.id}`, owner.token)).status, 204);
    const removedAt = performance.now();
    await waitFor(
      async () =>
        (await api.get(`/projects/${project.id}`, leaving.token)).status === 404 &&
        (await api.get(tasks, leaving.token)).status === 404,
      { timeoutMs: 1_000, intervalMs: 25, what: 'the removed member to lose access' },
    );
    assert.ok(performance.now() - removedAt < 1_000);
  });

  test('a user just added can act at once (membership fallback)', async () => {
    const newcomer = await person(api, 'Nina Newcomer');
    await join(api, orgId, owner, newcomer, 'ADMIN');
    // No wait for events: work asks governance when its projection has not seen the membership yet.
    const created = await api.post<Project>(
      '/projects',
      { orgId, name: 'Fresh', key: 'FRESH' },
      newcomer.token,
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
  });
});
