import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { apiClient, type ApiClient } from './support/client.ts';
import { person, type Person } from './support/people.ts';
import { startSuite, type Suite } from './support/suite.ts';

let suite: Suite;
let api: ApiClient;

before(async () => {
  suite = await startSuite();
  api = apiClient(suite.gatewayUrl);
});

after(() => suite?.close());

interface Hostile {
  method: 'GET' | 'POST' | 'PATCH';
  path: string;
  /** Raw JSON text, so lone surrogates travel as the `\ud800` escapes a client would send. */
  raw?: string;
}

/** One org with a team, a project, a task and a sprint, owned by `who`. */
async function tenant(who: Person) {
  const org = await api.post<{ id: string }>(
    '/orgs',
    { name: `Tenant ${randomUUID().slice(0, 6)}` },
    who.token,
  );
  assert.equal(org.status, 201, JSON.stringify(org.body));
  const team = await api.post<{ id: string }>(`/orgs/${org.body.id}/teams`, { name: 'Core' }, who.token);
  assert.equal(team.status, 201, JSON.stringify(team.body));
  const key = `T${randomUUID().replace(/\D/g, '').slice(0, 5)}`;
  const project = await api.post<{ id: string }>(
    '/projects',
    { orgId: org.body.id, name: 'Project', key },
    who.token,
  );
  assert.equal(project.status, 201, JSON.stringify(project.body));
  const task = await api.post<{ id: string }>(
    `/projects/${project.body.id}/tasks`,
    { title: 'A task' },
    who.token,
  );
  assert.equal(task.status, 201, JSON.stringify(task.body));
  const sprint = await api.post<{ id: string }>(
    `/projects/${project.body.id}/sprints`,
    { name: 'S1', startDate: '2026-01-05', endDate: '2026-01-16' },
    who.token,
  );
  assert.equal(sprint.status, 201, JSON.stringify(sprint.body));
  return {
    orgId: org.body.id,
    teamId: team.body.id,
    projectId: project.body.id,
    taskId: task.body.id,
    sprintId: sprint.body.id,
  };
}

/** The inputs issue 18 found answering 500: NUL, lone surrogates, year 0, offsets past ±14:00. */
function hostileInputs(t: Awaited<ReturnType<typeof tenant>>): Hostile[] {
  const nul = '"a\\u0000b"';
  const surrogate = '"a\\ud800b"';
  const tasks = `/projects/${t.projectId}/tasks`;
  return [
    { method: 'GET', path: `${tasks}?q=%00` },
    { method: 'GET', path: `${tasks}?label=%00` },
    { method: 'GET', path: `${tasks}?dueBefore=0000-01-01` },
    { method: 'GET', path: `${tasks}?dueAfter=0000-01-01` },
    { method: 'GET', path: `${tasks}?updatedSince=0000-01-01T00:00:00Z` },
    { method: 'GET', path: `${tasks}?updatedSince=2026-01-01T00:00:00%2B16:00` },
    { method: 'GET', path: `/orgs/${t.orgId}/audit?from=0000-01-01T00:00:00Z` },
    { method: 'GET', path: `/tasks/${t.taskId}%00` },
    { method: 'POST', path: tasks, raw: `{"title":${nul}}` },
    { method: 'POST', path: tasks, raw: `{"title":${surrogate}}` },
    { method: 'POST', path: tasks, raw: `{"title":"ok","description":${nul}}` },
    { method: 'POST', path: tasks, raw: `{"title":"ok","labels":[${nul}]}` },
    { method: 'POST', path: tasks, raw: '{"title":"ok","dueDate":"0000-01-01"}' },
    { method: 'PATCH', path: `/tasks/${t.taskId}`, raw: `{"title":${surrogate}}` },
    { method: 'PATCH', path: `/tasks/${t.taskId}`, raw: '{"startDate":"0000-01-01"}' },
    {
      method: 'POST',
      path: `/projects/${t.projectId}/sprints`,
      raw: '{"name":"S","startDate":"0000-01-01","endDate":"0000-01-02"}',
    },
    {
      method: 'POST',
      path: `/projects/${t.projectId}/sprints`,
      raw: '{"name":"S","startDate":"1900-01-01","endDate":"9999-12-31"}',
    },
    { method: 'PATCH', path: `/orgs/${t.orgId}`, raw: `{"name":${nul}}` },
    { method: 'POST', path: '/orgs', raw: `{"name":${nul}}` },
    { method: 'PATCH', path: `/teams/${t.teamId}`, raw: `{"name":${surrogate}}` },
    { method: 'PATCH', path: '/users/me', raw: `{"name":${nul}}` },
    { method: 'POST', path: '/comments', raw: `{"taskId":"${t.taskId}","body":${surrogate}}` },
  ];
}

test("one user's storm of hostile input: every answer a 4xx, another org sees 0 errors, no breaker opens", async () => {
  const [x, y] = await Promise.all([person(api, 'Xavier Hostile'), person(api, 'Yolanda Bystander')]);
  const [xs, ys] = await Promise.all([tenant(x), tenant(y)]);
  const inputs = hostileInputs(xs);

  let stormOver = false;
  const bystander: number[] = [];
  const reading = (async () => {
    while (!stormOver) {
      const res = await api.get(`/projects?orgId=${ys.orgId}`, y.token);
      bystander.push(res.status);
      const tasks = await api.get(`/projects/${ys.projectId}/tasks`, y.token);
      bystander.push(tasks.status);
    }
  })();

  const answers: Array<{ request: string; status: number }> = [];
  try {
    // 200 requests, four at a time, cycling through the list.
    const queue = Array.from({ length: 200 }, (_, i) => inputs[i % inputs.length]!);
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) {
          const res = await api.call(next.method, next.path, { token: x.token, raw: next.raw });
          answers.push({ request: `${next.method} ${next.path} ${next.raw ?? ''}`, status: res.status });
        }
      }),
    );
  } finally {
    stormOver = true;
    await reading;
  }

  assert.equal(answers.length, 200);
  const not4xx = answers.filter((a) => a.status < 400 || a.status >= 500);
  assert.deepEqual(not4xx, [], 'every hostile request is refused with a 4xx');
  assert.ok(bystander.length > 0, 'the other org kept reading during the storm');
  assert.deepEqual(
    bystander.filter((status) => status !== 200),
    [],
    `the other org saw only 200s (${bystander.length} reads)`,
  );
  const metrics = await (await fetch(suite.metricsUrls.gateway)).text();
  const open = metrics.split('\n').filter((line) => /^gateway_breaker_open\{.*\} 1$/.test(line));
  assert.deepEqual(open, [], 'no breaker opened');
});
