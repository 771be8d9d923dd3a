// What every benchmark starts from: the suite as processes, and an org made through the gateway as a
// user would. Imported after the stack's environment is set (the test helpers read it when loaded).
import { join as joinPath, resolve as resolvePath } from 'node:path';
import type { ApiClient } from '../e2e/support/client.ts';
import { join, person, type Person } from '../e2e/support/people.ts';
import { startSuite, type Suite } from '../e2e/support/suite.ts';

/**
 * The six services with rate limits out of the way. BENCH_CPU_PROF=<dir> writes V8 CPU profiles of
 * every service (one folder each).
 */
export function startBenchSuite(logLevel = 'error', keptAs?: string): Promise<Suite> {
  // Resolved here: the services start in their own folders.
  const cpuProfileDir = process.env.BENCH_CPU_PROF && resolvePath(process.env.BENCH_CPU_PROF);
  const profile = (name: string): Record<string, string> =>
    cpuProfileDir ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${joinPath(cpuProfileDir, name)}` } : {};
  return startSuite({
    logLevel,
    ...(keptAs ? { keptAs } : {}),
    env: {
      gateway: { RATE_LIMIT_PER_USER: '100000000', RATE_LIMIT_PER_IP: '100000000', ...profile('gateway') },
      identity: profile('identity'),
      governance: profile('governance'),
      work: profile('work'),
      collab: profile('collab'),
      // Webhooks to the benchmark's own receiver on this machine.
      notify: { WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true', ...profile('notify') },
    },
  });
}

/** An owner, a member who joined by invitation, and a project of the owner's in their org. */
export async function orgWithMember(
  api: ApiClient,
  names: { owner: string; member: string; org: string; project: string; key: string },
): Promise<{ owner: Person; member: Person; orgId: string; projectId: string }> {
  const owner = await person(api, names.owner);
  const member = await person(api, names.member);
  const org = await api.post<{ id: string }>('/orgs', { name: `${names.org} ${Date.now()}` }, owner.token);
  await join(api, org.body.id, owner, member, 'MEMBER');
  const project = await api.post<{ id: string }>(
    '/projects',
    { orgId: org.body.id, name: names.project, key: names.key },
    owner.token,
  );
  if (project.status !== 201) throw new Error(`project: ${project.status} ${JSON.stringify(project.body)}`);
  return { owner, member, orgId: org.body.id, projectId: project.body.id };
}
