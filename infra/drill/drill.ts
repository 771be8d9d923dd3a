// npm run drill -- <name>: fault drills (issue 19). Each runs the suite on free ports with its own
// databases and topics (a broker of its own when it kills Kafka), puts load on it, causes the fault,
// and counts what was acknowledged, lost and duplicated — writes, the assignee's inbox and live
// feed — and how long until every consumer group had caught up. The last line is the verdict:
//   drill <name>: sent N, acknowledged A, failed F, lost L, duplicated D, recovery S s
// See infra/drill/README.md.
import { appendFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { env, paths } from '../local/config.ts';
import { say, step, UserError } from '../local/log.ts';
import { postmasterPid, startCluster, stopCluster } from '../local/postgres/postgres.ts';
import { childPids, freePort } from '../local/proc.ts';
import { stackEnv } from '../local/services.ts';
import { downStarted, up } from '../local/stack.ts';

const DRILLS = [
  'kafka-outage',
  'postgres-crash',
  'notify-outage',
  'kill-service',
  'soak',
  'rolling-restart',
  'kill-replica',
] as const;
type Drill = (typeof DRILLS)[number];
const SERVICE_NAMES = ['gateway', 'identity', 'governance', 'work', 'collab', 'notify'] as const;
type ServiceName = (typeof SERVICE_NAMES)[number];

const [drillArg, ...drillArgs] = process.argv.slice(2);
if (!drillArg || !(DRILLS as readonly string[]).includes(drillArg)) {
  console.error(`usage: npm run drill -- <${DRILLS.join('|')}> [service]   (see infra/drill/README.md)`);
  process.exit(2);
}
const drill = drillArg as Drill;
const target = (drillArgs[0] ?? 'work') as ServiceName;
const ON_A_SERVICE: Drill[] = ['kill-service', 'rolling-restart', 'kill-replica'];
if (ON_A_SERVICE.includes(drill) && !(SERVICE_NAMES as readonly string[]).includes(target))
  throw new UserError(`${drill}: no service ${target}`);
/** How long after the fault ends the consumers may take to catch up before the drill calls it. */
const RECOVERY_LIMIT_MS = Number(env('DRILL_RECOVERY_LIMIT_S') ?? 180) * 1000;

const started = new Set<string>();
await up(started);
Object.assign(process.env, stackEnv());
// postgres-crash: the suite's databases live in a cluster of the drill's own, which it may crash.
const cluster =
  drill === 'postgres-crash'
    ? await step('a PostgreSQL cluster of the drill’s own', () => privateCluster())
    : undefined;
if (cluster) process.env.DATABASE_URL = cluster.url;
// Imported once the stack's env is set: the test helpers read it when loaded.
const { apiClient } = await import('../../e2e/support/client.ts');
const { startSuite } = await import('../../e2e/support/suite.ts');
const { startPrivateKafka } = await import('../../e2e/support/private-kafka.ts');
const { stack, waitFor } = await import('@trellis/shared/testing');
const { drained, LiveFeed, world, Writer } = await import('./probes.ts');
const { verdict } = await import('./verdict.ts');
type Outcome = Awaited<ReturnType<typeof verdict>>;
type World = Awaited<ReturnType<typeof world>>;
type WriterT = InstanceType<typeof Writer>;
type FeedT = InstanceType<typeof LiveFeed>;

const RATE_LIMITS = { RATE_LIMIT_PER_USER: '100000000', RATE_LIMIT_PER_IP: '100000000' };
/** Every service's whole output, one file each, for reading what went wrong afterwards. */
const logDir = join(paths.home, 'drill', 'logs');
rmSync(logDir, { recursive: true, force: true });
mkdirSync(logDir, { recursive: true });
const keepLogs = (name: string, chunk: string) => appendFileSync(join(logDir, `${name}.log`), chunk);
const suiteOptions = (more: { kafkaBrokers?: string[] } = {}) => ({
  ...more,
  env: { gateway: RATE_LIMITS },
  onOutput: keepLogs,
});
const seconds = (ms: number) => (ms / 1000).toFixed(1);

function report(writer: WriterT, outcome: Outcome, recoveryMs: number | undefined): number {
  const recovery = recoveryMs === undefined ? `> ${seconds(RECOVERY_LIMIT_MS)}` : seconds(recoveryMs);
  say(
    `drill ${drill}${drill === 'kill-service' ? ` ${target}` : ''}: sent ${writer.sent}, acknowledged ${writer.acknowledged.size}, failed ${writer.failed}, lost ${outcome.lost}, duplicated ${outcome.duplicated}, recovery ${recovery} s`,
  );
  return outcome.lost === 0 && outcome.duplicated === 0 && recoveryMs !== undefined ? 0 : 1;
}

/** Writes at `rate` for `before` s, runs the fault, writes on for 10 s after it ends, then measures. */
async function underLoad(
  gatewayUrl: string,
  brokers: string[],
  topicPrefix: string,
  rate: number,
  fault: (w: World) => Promise<void>,
): Promise<{ writer: WriterT; feed: FeedT; w: World; recoveryMs: number | undefined }> {
  const api = apiClient(gatewayUrl);
  const w = await step('an org, a project, an owner and an assignee', () => world(api));
  const feed = new LiveFeed(gatewayUrl, w);
  await feed.start();
  const writer = new Writer(gatewayUrl, w);
  writer.start(rate);
  say(`  writing ${rate} assigned task creates/s`);
  await sleep(10_000);
  await fault(w);
  const faultEnded = performance.now();
  await sleep(10_000);
  await writer.stop();
  const drainedAt = await step('every consumer group at lag 0', () =>
    drained(brokers, topicPrefix, RECOVERY_LIMIT_MS),
  );
  return { writer, feed, w, recoveryMs: drainedAt === undefined ? undefined : drainedAt - faultEnded };
}

/** A drill's whole run under load: the fault, the verdict, the final line; its exit code. */
async function faultDrill(
  gatewayUrl: string,
  brokers: string[],
  topicPrefix: string,
  rate: number,
  fault: (w: World) => Promise<void>,
): Promise<number> {
  const run = await underLoad(gatewayUrl, brokers, topicPrefix, rate, fault);
  const outcome = await verdict(run.w, [run.writer], run.feed);
  await run.feed.stop();
  return report(run.writer, outcome, run.recoveryMs);
}

async function kafkaOutage(): Promise<number> {
  const kafka = await step('a Kafka broker of the drill’s own', () => startPrivateKafka());
  const suite = await step('the suite on it', () =>
    startSuite(suiteOptions({ kafkaBrokers: kafka.brokers })),
  );
  try {
    return await faultDrill(suite.gatewayUrl, kafka.brokers, suite.topicPrefix, 20, async () => {
      await kafka.kill();
      say('  ✗ broker SIGKILLed; down for 30 s');
      await sleep(30_000);
      await step('broker started again', () => kafka.start());
    });
  } finally {
    await suite.close();
    await kafka.close();
  }
}

async function notifyOutage(): Promise<number> {
  const suite = await step('the suite', () => startSuite(suiteOptions()));
  try {
    return await faultDrill(suite.gatewayUrl, stack.kafkaBrokers, suite.topicPrefix, 10, async () => {
      await suite.kill('notify');
      say('  ✗ notify SIGKILLed; down for 20 s');
      await sleep(20_000);
      await step('notify started again', () => suite.start('notify'));
    });
  } finally {
    await suite.close();
  }
}

/**
 * kill-service runs the suite as `npm start` does (supervised) on free ports: SIGKILLs the service,
 * counts the other services' errors through the gateway, and times the supervisor bringing it back.
 */
async function killService(): Promise<number> {
  const { startNpmStart } = await import('../../e2e/support/npm-start.ts');
  const start = await step('npm start on free ports', () =>
    startNpmStart({ env: RATE_LIMITS, onOutput: (chunk) => keepLogs('npm-start', chunk) }),
  );
  const gatewayUrl = `http://127.0.0.1:${start.ports.gateway}`;
  try {
    const api = apiClient(gatewayUrl);
    let recoveryMs: number | undefined;
    const errors = new Map<ServiceName, number>();
    const reads = new Map<ServiceName, number>();
    const run = await underLoad(
      gatewayUrl,
      stack.kafkaBrokers,
      `${start.env.KAFKA_TOPIC_PREFIX}`,
      10,
      async (w) => {
        // Reads of every service through the gateway, ≈5/s each, while the target is down and back.
        const routes: Record<Exclude<ServiceName, 'gateway'>, string> = {
          identity: '/users/me',
          governance: `/orgs/${w.orgId}`,
          work: `/projects/${w.projectId}`,
          collab: `/channels?orgId=${w.orgId}`,
          notify: '/notifications/unread-count',
        };
        const pid = start.pid(target);
        if (!pid) throw new Error(`no ${target} process under npm start`);
        let reading = true;
        const reader = (async () => {
          while (reading) {
            for (const [name, path] of Object.entries(routes) as Array<[ServiceName, string]>) {
              const res = await api.get(path, w.owner.token).catch(() => ({ status: 0 }));
              reads.set(name, (reads.get(name) ?? 0) + 1);
              if (res.status !== 200) errors.set(name, (errors.get(name) ?? 0) + 1);
            }
            await sleep(200);
          }
        })();
        await sleep(2_000);
        const killedAt = performance.now();
        process.kill(pid, 'SIGKILL');
        say(`  ✗ ${target} SIGKILLed`);
        await waitFor(async () => start.pid(target) !== undefined && (await start.ready(target)), {
          what: `${target} back`,
          timeoutMs: 60_000,
          intervalMs: 100,
        });
        recoveryMs = performance.now() - killedAt;
        say(`  ✓ ${target} back and ready after ${seconds(recoveryMs)} s (the supervisor)`);
        await sleep(5_000);
        reading = false;
        await reader;
      },
    );
    const others = SERVICE_NAMES.filter((n) => n !== target && n !== 'gateway');
    const otherErrors = others.reduce((sum, n) => sum + (errors.get(n) ?? 0), 0);
    say(
      `  reads:         ${others.map((n) => `${n} ${errors.get(n) ?? 0}/${reads.get(n) ?? 0}`).join(', ')} errors/reads (the others); ${target} ${errors.get(target) ?? 0}/${reads.get(target) ?? 0}`,
    );
    const outcome = await verdict(run.w, [run.writer], run.feed);
    await run.feed.stop();
    const code = report(run.writer, outcome, recoveryMs);
    return otherErrors === 0 && (recoveryMs ?? Infinity) <= 10_000 ? code : 1;
  } finally {
    await start.stop();
  }
}

function rssKb(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;
};

/**
 * soak: DRILL_SOAK_SECONDS (600) of 50 requests/s — 10 assigned task creates and 40 reads (task
 * list, a task, the inbox, the unread count, a task's comments) — then: 0 errors, write → live
 * notification p99 ≤ 250 ms, every process's RSS grown < 10 % from minute 2 to the end.
 */
async function soak(): Promise<number> {
  const duration = Number(env('DRILL_SOAK_SECONDS') ?? 600) * 1000;
  const suite = await step('the suite', () => startSuite(suiteOptions()));
  try {
    const api = apiClient(suite.gatewayUrl);
    const w = await step('an org, a project, an owner and an assignee', () => world(api));
    const feed = new LiveFeed(suite.gatewayUrl, w);
    await feed.start();
    const writer = new Writer(suite.gatewayUrl, w);
    const readLatencies: number[] = [];
    let readErrors = 0;
    const readFailures = new Map<string, number>();
    const readFailed = (what: string) => {
      readErrors += 1;
      readFailures.set(what, (readFailures.get(what) ?? 0) + 1);
    };
    let readsSent = 0;
    const reading = new Set<Promise<void>>();
    const readPaths = () => {
      const recent = [...writer.acknowledged.values()].at(-1);
      return [
        `/projects/${w.projectId}/tasks?limit=20`,
        recent ? `/tasks/${recent.id}` : `/projects/${w.projectId}`,
        '/notifications?limit=20',
        '/notifications/unread-count',
        recent ? `/comments?taskId=${recent.id}` : `/channels?orgId=${w.orgId}`,
      ];
    };
    const reader = setInterval(() => {
      const paths_ = readPaths();
      const path = paths_[readsSent % paths_.length]!;
      const token = path.startsWith('/notifications') ? w.assignee.token : w.owner.token;
      readsSent += 1;
      const began = performance.now();
      const read = api
        .get(path, token)
        .then(
          (res) => {
            readLatencies.push(performance.now() - began);
            if (res.status !== 200)
              readFailed(
                `${path.replace(/[0-9a-f-]{36}/g, ':id').replace(/\?.*/, '')} → ${res.status} ${JSON.stringify(res.body).slice(0, 120)}`,
              );
          },
          (error: unknown) => readFailed(`${path.replace(/\?.*/, '')} → ${(error as Error).message}`),
        )
        .finally(() => reading.delete(read));
      reading.add(read);
    }, 1000 / 40);
    writer.start(10);
    say(`  50 requests/s for ${duration / 1000} s: 10 assigned task creates, 40 reads`);
    const began = performance.now();
    const pidsOf = () => SERVICE_NAMES.map((name) => [name, suite.pid(name)] as const);
    let rssAtTwo: Map<string, number> | undefined;
    while (performance.now() - began < duration) {
      await sleep(10_000);
      const elapsed = performance.now() - began;
      if (!rssAtTwo && elapsed >= Math.min(120_000, duration / 5))
        rssAtTwo = new Map(pidsOf().map(([name, pid]) => [name, rssKb(pid)]));
      say(
        `  … ${seconds(elapsed)} s: ${writer.acknowledged.size} writes, ${readsSent} reads, ${writer.failed + readErrors} errors`,
      );
    }
    clearInterval(reader);
    await writer.stop();
    await Promise.all(reading);
    const rssAtEnd = new Map(pidsOf().map(([name, pid]) => [name, rssKb(pid)]));
    const stoppedAt = performance.now();
    const drainedAt = await step('every consumer group at lag 0', () =>
      drained(stack.kafkaBrokers, suite.topicPrefix, RECOVERY_LIMIT_MS),
    );
    const outcome = await verdict(w, [writer], feed);
    await feed.stop();
    const toSocket = [...writer.acknowledged.values()]
      .map((c) => (feed.arrivedAt.get(c.key) ?? NaN) - c.sentAt)
      .filter(Number.isFinite);
    const growth = SERVICE_NAMES.map((name) => {
      const from = rssAtTwo?.get(name) ?? 0;
      const to = rssAtEnd.get(name) ?? 0;
      return { name, from, to, pct: from > 0 ? ((to - from) / from) * 100 : 0 };
    });
    say(
      `  reads:         ${readsSent}, ${readErrors} errors, p50 ${percentile(readLatencies, 50).toFixed(1)} ms, p99 ${percentile(readLatencies, 99).toFixed(1)} ms`,
    );
    for (const [what, n] of readFailures) say(`  read failure:  ${what} ×${n}`);
    say(
      `  write → live notification: p50 ${percentile(toSocket, 50).toFixed(1)} ms, p99 ${percentile(toSocket, 99).toFixed(1)} ms (${toSocket.length} events)`,
    );
    say(
      `  RSS (MiB) from ${seconds(Math.min(120_000, duration / 5))} s to the end: ${growth.map((g) => `${g.name} ${(g.from / 1024).toFixed(0)}→${(g.to / 1024).toFixed(0)} (${g.pct >= 0 ? '+' : ''}${g.pct.toFixed(1)} %)`).join(', ')}`,
    );
    const code = report(writer, outcome, drainedAt === undefined ? undefined : drainedAt - stoppedAt);
    const healthy =
      readErrors === 0 &&
      writer.failed === 0 &&
      percentile(toSocket, 99) <= 250 &&
      growth.every((g) => g.pct < 10);
    return healthy ? code : 1;
  } finally {
    await suite.close();
  }
}

/**
 * postgres-crash: the postmaster and every backend SIGKILLed (an OOM kill, a power cut of the process
 * tree) under 10 writes/s, started again 5 s later (crash recovery). Bar: 0 acknowledged writes lost,
 * no notification for a task that does not exist, no task key given twice.
 */
async function postgresCrash(): Promise<number> {
  if (!cluster) throw new Error('no cluster');
  const suite = await step('the suite', () => startSuite(suiteOptions()));
  try {
    return await faultDrill(suite.gatewayUrl, stack.kafkaBrokers, suite.topicPrefix, 10, async () => {
      cluster.crash();
      say('  ✗ PostgreSQL SIGKILLed (postmaster and backends); down for 5 s');
      await sleep(5_000);
      await step('PostgreSQL started again (crash recovery)', () => cluster.start());
    });
  } finally {
    await suite.close();
  }
}

async function privateCluster() {
  const port = await freePort();
  const dir = join(paths.home, 'drill', `postgres-${port}`);
  const layout = { dataDir: join(dir, 'data'), log: join(dir, 'postgres.log'), port };
  await startCluster(layout, () => undefined);
  const crash = () => {
    const pid = postmasterPid(layout);
    if (pid === undefined) throw new Error('the drill’s PostgreSQL is not running');
    // Stopped first, so it starts no new backend while they are killed.
    process.kill(pid, 'SIGSTOP');
    for (const child of childPids(pid)) {
      try {
        process.kill(child, 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
    process.kill(pid, 'SIGKILL');
  };
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    crash,
    start: () => startCluster(layout, () => undefined),
    close: async () => {
      const pid = postmasterPid(layout);
      if (pid !== undefined) await stopCluster(layout, pid);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const drills: Record<Drill, () => Promise<number>> = {
  'kafka-outage': kafkaOutage,
  'postgres-crash': postgresCrash,
  'notify-outage': notifyOutage,
  'kill-service': killService,
  soak,
  'rolling-restart': async () => {
    const { replicaDrill } = await import('./replicas.ts');
    return replicaDrill('rolling-restart', target, suiteOptions(), RECOVERY_LIMIT_MS);
  },
  'kill-replica': async () => {
    const { replicaDrill } = await import('./replicas.ts');
    return replicaDrill('kill-replica', target, suiteOptions(), RECOVERY_LIMIT_MS);
  },
};

let code = 1;
say(`  the services' output: ${logDir}`);
try {
  code = await drills[drill]();
} catch (error) {
  console.error(
    `✗ drill ${drill}: ${error instanceof UserError ? error.message : ((error as Error).stack ?? error)}`,
  );
} finally {
  await cluster?.close();
  await downStarted(started);
}
process.exit(code);
