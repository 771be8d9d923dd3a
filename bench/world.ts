// Imported after the stack's environment is set (the test helpers read it when loaded).
// The volumes `bench:events` measures at, written through the API like any client's data and kept in
// the local stack between runs: databases `<label>_<service>`, topics `<label>.*`, and a manifest
// under `.trellis/bench/` naming the orgs, projects and people. A run whose manifest still answers
// (its owner logs in, its first project is there) starts at once; otherwise the world is dropped
// and written again, with progress, then every consumer group is waited for.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Admin } from 'kafkajs';
import { paths } from '../infra/local/config.ts';
import { deleteTopicsWithPrefix, stack } from '@trellis/shared/testing';
import { apiClient, type ApiClient } from '../e2e/support/client.ts';
import { consumerLag } from '../e2e/support/lag.ts';
import { join as joinOrg, person, type Person } from '../e2e/support/people.ts';
import { dropStackDatabases, type Suite } from '../e2e/support/suite.ts';

/** What the world holds; BENCH_WORLD_<NAME> overrides each (a different size is a different world). */
export const VOLUMES = {
  tasks: Number(process.env.BENCH_WORLD_TASKS ?? 100_000),
  comments: Number(process.env.BENCH_WORLD_COMMENTS ?? 50_000),
  statusChanges: Number(process.env.BENCH_WORLD_STATUS_CHANGES ?? 50_000),
  messages: Number(process.env.BENCH_WORLD_MESSAGES ?? 20_000),
};
const ORGS = 2;
const PROJECTS_PER_ORG = 5;
const MEMBERS_PER_ORG = 9;
const WRITERS = 16;
const PASSWORD = 'correct horse battery';

interface Someone {
  id: string;
  email: string;
}
export interface WorldOrg {
  id: string;
  owner: Someone;
  members: Someone[];
  projects: Array<{ id: string; key: string }>;
}
export interface World {
  label: string;
  orgs: WorldOrg[];
  seededAt: string;
}

/** The world's name: its size is part of it, so databases of another size are never mixed in. */
export const worldLabel = (): string =>
  `bw1_t${VOLUMES.tasks}_c${VOLUMES.comments}_s${VOLUMES.statusChanges}_m${VOLUMES.messages}`;

const manifestPath = (label: string) => join(paths.home, 'bench', `${label}.json`);

/** The manifest, when one was written for this world. */
export function recordedWorld(label: string): World | undefined {
  const path = manifestPath(label);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as World) : undefined;
}

/** Whether the recorded world is still in the stack (its owner logs in, its first project answers). */
export async function worldAnswers(api: ApiClient, world: World): Promise<boolean> {
  const org = world.orgs[0];
  if (!org) return false;
  const token = await signIn(api, org.owner).catch(() => undefined);
  return token !== undefined && (await api.get(`/projects/${org.projects[0]?.id}`, token)).status === 200;
}

export async function signIn(api: ApiClient, who: Someone): Promise<string> {
  const res = await api.post<{ accessToken: string }>('/auth/login', {
    email: who.email,
    password: PASSWORD,
  });
  if (res.status !== 200) throw new Error(`login ${who.email}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.accessToken;
}

/** Access tokens expire: each person's is taken again every few minutes. */
function sessions(api: ApiClient) {
  const tokens = new Map<string, { token: string; at: number }>();
  return async (who: Someone): Promise<string> => {
    const known = tokens.get(who.id);
    if (known && performance.now() - known.at < 5 * 60_000) return known.token;
    const token = await signIn(api, who);
    tokens.set(who.id, { token, at: performance.now() });
    return token;
  };
}

async function expect(what: string, response: Promise<{ status: number; body: unknown }>) {
  const res = await response;
  if (res.status >= 300) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as Record<string, unknown> & { id: string };
}

/** Runs `count` writes with WRITERS at once, printing progress every 10 s. */
async function phase(name: string, count: number, write: (i: number) => Promise<void>): Promise<void> {
  const started = performance.now();
  let next = 0;
  let done = 0;
  let shownAt = started;
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      for (let i = next++; i < count; i = next++) {
        await write(i);
        done += 1;
        if (performance.now() - shownAt > 10_000) {
          shownAt = performance.now();
          const rate = done / ((shownAt - started) / 1000);
          console.log(`  … ${name}: ${done} of ${count} (${rate.toFixed(0)}/s)`);
        }
      }
    }),
  );
  console.log(`  ✓ ${name}: ${count} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

/**
 * Writes the world: 2 orgs of an owner and 9 members, 5 projects each with every member a
 * CONTRIBUTOR; then the tasks (each assigned to a member), status changes of the first ones,
 * comments mentioning the assignee and chat messages in the project channels — all by the owners.
 * Every member's e-mail is off (as most people set it), so MailDev does not hold 200 000 mails.
 * Returns once every consumer group of the suite has consumed it all.
 */
export async function seedWorld(api: ApiClient, admin: Admin, topicPrefix: string): Promise<World> {
  const label = worldLabel();
  console.log(
    `\nseeding the world ${label}: ${VOLUMES.tasks} tasks, ${VOLUMES.statusChanges} status changes, ` +
      `${VOLUMES.comments} comments, ${VOLUMES.messages} chat messages (kept for later runs)`,
  );
  const seedStart = performance.now();
  const orgs: WorldOrg[] = [];
  for (let o = 0; o < ORGS; o += 1) {
    const owner = await person(api, `World Owner ${o}`);
    const org = await expect('org', api.post('/orgs', { name: `World ${o}` }, owner.token));
    const members: Person[] = [];
    for (let m = 0; m < MEMBERS_PER_ORG; m += 1) {
      const member = await person(api, `World Member ${o}-${m}`);
      await joinOrg(api, org.id, owner, member, 'MEMBER');
      await expect(
        'preferences',
        api.call('PUT', '/notifications/preferences', {
          body: { email: { 'task.assigned': false, mention: false } },
          token: member.token,
        }),
      );
      members.push(member);
    }
    const projects: WorldOrg['projects'] = [];
    for (let p = 0; p < PROJECTS_PER_ORG; p += 1) {
      const key = `W${o}P${p}`;
      const project = await expect(
        'project',
        api.post('/projects', { orgId: org.id, name: key, key }, owner.token),
      );
      for (const member of members)
        await expect(
          'project member',
          api.post(
            `/projects/${project.id}/members`,
            { userId: member.id, role: 'CONTRIBUTOR' },
            owner.token,
          ),
        );
      projects.push({ id: project.id, key });
    }
    const strip = ({ id, email }: Someone) => ({ id, email });
    orgs.push({ id: org.id, owner: strip(owner), members: members.map(strip), projects });
  }
  console.log(
    `  ✓ ${ORGS} orgs, ${ORGS * PROJECTS_PER_ORG} projects, ${ORGS * (MEMBERS_PER_ORG + 1)} people`,
  );

  const token = sessions(api);
  const projects = orgs.flatMap((org) => org.projects.map((project) => ({ org, project })));
  const tasks: Array<{ id: string; org: WorldOrg; assignee: Someone }> = [];
  await phase('tasks', VOLUMES.tasks, async (i) => {
    const { org, project } = projects[i % projects.length]!;
    const assignee = org.members[Math.floor(i / projects.length) % org.members.length]!;
    const task = await expect(
      'task',
      api.post(
        `/projects/${project.id}/tasks`,
        { title: `World task ${i}`, assigneeId: assignee.id },
        await token(org.owner),
      ),
    );
    tasks[i] = { id: task.id, org, assignee };
  });
  await phase('status changes', Math.min(VOLUMES.statusChanges, tasks.length), async (i) => {
    const task = tasks[i]!;
    await expect(
      'status',
      api.patch(`/tasks/${task.id}`, { status: 'IN_PROGRESS' }, await token(task.org.owner)),
    );
  });
  await phase('comments', VOLUMES.comments, async (i) => {
    const task = tasks[(i * 7) % tasks.length]!;
    const body = `Please have a look <@${task.assignee.id}> (${i})`;
    await expect('comment', api.post('/comments', { taskId: task.id, body }, await token(task.org.owner)));
  });
  const channels: Array<{ id: string; owner: Someone }> = [];
  for (const org of orgs) {
    const listed = await api.get<
      { items?: Array<{ id: string; scope: string }> } | Array<{ id: string; scope: string }>
    >(`/channels?orgId=${org.id}`, await token(org.owner));
    const items = Array.isArray(listed.body) ? listed.body : (listed.body.items ?? []);
    for (const channel of items)
      if (channel.scope === 'project') channels.push({ id: channel.id, owner: org.owner });
  }
  if (channels.length === 0 && VOLUMES.messages > 0) throw new Error('no project chat channels to write to');
  await phase('chat messages', VOLUMES.messages, async (i) => {
    const channel = channels[i % channels.length]!;
    await expect(
      'message',
      api.post(
        `/channels/${channel.id}/messages`,
        { body: `World message ${i}` },
        await token(channel.owner),
      ),
    );
  });
  const written = performance.now();
  await drained(admin, topicPrefix, 'the world');
  console.log(
    `  ✓ written in ${((written - seedStart) / 1000).toFixed(0)} s, consumed ` +
      `${((performance.now() - written) / 1000).toFixed(0)} s after the last write`,
  );
  const world: World = { label, orgs, seededAt: new Date().toISOString() };
  mkdirSync(join(paths.home, 'bench'), { recursive: true });
  writeFileSync(manifestPath(label), JSON.stringify(world, null, 2));
  return world;
}

/** Waits until every live consumer group of the suite has consumed everything, with progress. */
export async function drained(admin: Admin, topicPrefix: string, what: string): Promise<void> {
  let shownAt = performance.now();
  for (;;) {
    const behind = [...(await consumerLag(admin, topicPrefix, { liveOnly: true })).values()].reduce(
      (sum, lag) => sum + lag,
      0,
    );
    if (behind === 0) return;
    if (performance.now() - shownAt > 10_000) {
      shownAt = performance.now();
      console.log(`  … ${what}: ${behind} events still to consume`);
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

/**
 * The suite on the world's databases and topics, the world written first when it is not there (or
 * no longer answers: then what is left of it is dropped).
 */
export async function worldSuite(
  start: (keptAs: string) => Promise<Suite>,
  admin: Admin,
): Promise<{ suite: Suite; world: World }> {
  const label = worldLabel();
  const suite = await start(label);
  const recorded = recordedWorld(label);
  if (recorded && (await worldAnswers(apiClient(suite.gatewayUrl), recorded))) {
    console.log(`the world ${label}, seeded ${recorded.seededAt}: reused`);
    await drained(admin, suite.topicPrefix, 'the world');
    return { suite, world: recorded };
  }
  await suite.close();
  await dropStackDatabases(label);
  await deleteTopicsWithPrefix(stack.kafkaBrokers, `${label}.`);
  const fresh = await start(label);
  return { suite: fresh, world: await seedWorld(apiClient(fresh.gatewayUrl), admin, fresh.topicPrefix) };
}

/**
 * The world's first org and project, its owner and first member signed in; the member's assignment
 * and mention e-mails on for the run (`restore` turns them off again).
 */
export async function worldPeople(api: ApiClient, world: World) {
  const org = world.orgs[0]!;
  const signedIn = async (who: Someone, name: string): Promise<Person> => ({
    ...who,
    name,
    token: await signIn(api, who),
  });
  const owner = await signedIn(org.owner, 'World Owner 0');
  const member = await signedIn(org.members[0]!, 'World Member 0-0');
  const mails = (on: boolean) =>
    expect(
      'preferences',
      api.call('PUT', '/notifications/preferences', {
        body: { email: { 'task.assigned': on, mention: on } },
        token: member.token,
      }),
    );
  await mails(true);
  return { owner, member, orgId: org.id, projectId: org.projects[0]!.id, restore: () => mails(false) };
}
