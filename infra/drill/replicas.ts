// Scale-out drills (issue 23): the suite at 2 replicas of every service behind a balancer, 50 mixed
// requests/s, and one service's replicas restarted one at a time (rolling-restart) or one replica
// SIGKILLed (kill-replica). Imported by drill.ts once the stack's env is set.
import { setTimeout as sleep } from 'node:timers/promises';

import { say, step } from '../local/log.ts';
import { apiClient } from '../../e2e/support/client.ts';
import { startSuite, type ServiceName, type Suite, type SuiteOptions } from '../../e2e/support/suite.ts';
import { stack } from '@trellis/shared/testing';
import { startBalancer } from './balancer.ts';
import { drained, failureCause, LiveFeed, world, Writer, type World } from './probes.ts';
import { verdict } from './verdict.ts';

export const REPLICA_DRILLS = ['rolling-restart', 'kill-replica'] as const;
export type ReplicaDrill = (typeof REPLICA_DRILLS)[number];

const REPLICAS = 2;
const seconds = (ms: number) => (ms / 1000).toFixed(1);

/** Reads at a steady rate, every answer recorded: what a client sees of the suite. */
class Reader {
  sent = 0;
  readonly failures = new Map<string, number>();
  /** When each failure happened (ms, performance.now). */
  readonly failedAt: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly base: string;
  private readonly w: World;

  constructor(base: string, w: World) {
    this.base = base;
    this.w = w;
  }

  get failed(): number {
    return this.failedAt.length;
  }

  start(perSecond: number): void {
    const paths = [
      `/projects/${this.w.projectId}/tasks?limit=20`,
      `/projects/${this.w.projectId}`,
      '/notifications?limit=20',
      '/notifications/unread-count',
      `/channels?orgId=${this.w.orgId}`,
      '/users/me',
      `/orgs/${this.w.orgId}`,
    ];
    this.timer = setInterval(() => {
      const path = paths[this.sent % paths.length] ?? '/users/me';
      this.sent += 1;
      const token = path.startsWith('/notifications') ? this.w.assignee.token : this.w.owner.token;
      const read = fetch(`${this.base}/api/v1${path}`, {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(10_000),
      })
        .then(async (res) => {
          await res.body?.cancel();
          if (res.status !== 200)
            this.fail(`${path.replace(/[0-9a-f-]{36}/g, ':id').replace(/\?.*/, '')} → ${res.status}`);
        })
        .catch((error: unknown) => this.fail(`${path.replace(/\?.*/, '')} → ${failureCause(error)}`))
        .finally(() => this.inFlight.delete(read));
      this.inFlight.add(read);
    }, 1000 / perSecond);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all(this.inFlight);
  }

  private fail(what: string): void {
    this.failedAt.push(performance.now());
    this.failures.set(what, (this.failures.get(what) ?? 0) + 1);
  }
}

interface Load {
  w: World;
  keyed: Writer;
  unkeyed: Writer;
  reader: Reader;
  feed: LiveFeed;
}

/** 50 requests/s: 5 keyed and 5 unkeyed assigned task creates, 40 reads; the assignee's live feed. */
async function startLoad(base: string): Promise<Load> {
  const api = apiClient(base);
  const w = await step('an org, a project, an owner and an assignee', () => world(api));
  const feed = new LiveFeed(base, w);
  await feed.start();
  const keyed = new Writer(base, w, { idempotencyKeys: true });
  const unkeyed = new Writer(base, w);
  const reader = new Reader(base, w);
  keyed.start(5);
  unkeyed.start(5);
  reader.start(40);
  say('  50 requests/s: 5 task creates/s with an Idempotency-Key, 5 without, 40 reads');
  return { w, keyed, unkeyed, reader, feed };
}

async function stopLoad(load: Load): Promise<void> {
  await Promise.all([load.keyed.stop(), load.unkeyed.stop(), load.reader.stop()]);
}

function failures(load: Load): string {
  const all = [
    ...[...load.keyed.failures].map(([what, n]) => `keyed create ${what} ×${n}`),
    ...[...load.unkeyed.failures].map(([what, n]) => `unkeyed create ${what} ×${n}`),
    ...[...load.reader.failures].map(([what, n]) => `read ${what} ×${n}`),
  ];
  return all.length ? all.join(', ') : 'none';
}

/**
 * Runs a replica drill; resolves to its exit code. The final line, as every drill's:
 * `drill <name> <service>: sent N, acknowledged A, failed F, lost L, duplicated D, recovery S s`.
 */
export async function replicaDrill(
  drill: ReplicaDrill,
  service: ServiceName,
  options: Pick<SuiteOptions, 'env' | 'onOutput'>,
  recoveryLimitMs: number,
): Promise<number> {
  const suite: Suite = await step(`the suite at ${REPLICAS} replicas of every service`, () =>
    startSuite({ ...options, replicas: REPLICAS }),
  );
  const balancer = await startBalancer(suite.replicaUrls.gateway);
  try {
    const load = await startLoad(balancer.url);
    await sleep(10_000);
    const faultAt = performance.now();
    if (drill === 'rolling-restart') {
      for (let replica = 0; replica < REPLICAS; replica += 1) {
        const began = performance.now();
        await suite.stop(service, replica);
        const stopped = performance.now();
        await suite.start(service, replica);
        say(
          `  ↻ ${service} #${replica + 1}: SIGTERM at ${seconds(began - faultAt)} s, exited after ${seconds(stopped - began)} s, ready again after ${seconds(performance.now() - stopped)} s`,
        );
        await sleep(3_000); // back in rotation before the next one goes
      }
    } else {
      await suite.kill(service, 0);
      say(`  ✗ ${service} #1 SIGKILLed`);
      await sleep(5_000);
      await step(`${service} #1 started again`, () => suite.start(service, 0));
    }
    const faultEnded = performance.now();
    await sleep(10_000);
    await stopLoad(load);
    const drainedAt = await step('every consumer group at lag 0', () =>
      drained(stack.kafkaBrokers, suite.topicPrefix, recoveryLimitMs),
    );
    const outcome = await verdict(load.w, [load.keyed, load.unkeyed], load.feed);
    await load.feed.stop();
    const lastFailure = Math.max(
      0,
      ...load.reader.failedAt,
      ...load.keyed.failedAtTimes,
      ...load.unkeyed.failedAtTimes,
    );
    const requestRecovery = lastFailure > faultAt ? lastFailure - faultAt : 0;
    const consumersCaughtUp = drainedAt === undefined ? undefined : drainedAt - faultEnded;
    say(`  reads:         ${load.reader.sent} sent, ${load.reader.failed} failed`);
    say(`  failures:      ${failures(load)}`);
    const when = [...load.reader.failedAt, ...load.keyed.failedAtTimes, ...load.unkeyed.failedAtTimes]
      .sort((x, y) => x - y)
      .map((t) => seconds(t - faultAt));
    if (when.length) say(`  failed at:     ${when.join(', ')} s after the fault began`);
    say(`  requests:      last failure ${seconds(requestRecovery)} s after the fault began`);
    say(
      `  consumers:     at lag 0 ${consumersCaughtUp === undefined ? 'never' : `${seconds(consumersCaughtUp)} s`} after the fault ended; live feed resets ${load.feed.resets}`,
    );
    const sent = load.keyed.sent + load.unkeyed.sent + load.reader.sent;
    const acknowledged =
      load.keyed.acknowledged.size + load.unkeyed.acknowledged.size + load.reader.sent - load.reader.failed;
    const failed = load.keyed.failed + load.unkeyed.failed + load.reader.failed;
    const recovery = drill === 'kill-replica' ? requestRecovery : (consumersCaughtUp ?? Infinity);
    say(
      `drill ${drill} ${service}: sent ${sent}, acknowledged ${acknowledged}, failed ${failed}, lost ${outcome.lost}, duplicated ${outcome.duplicated}, recovery ${Number.isFinite(recovery) ? seconds(recovery) : `> ${seconds(recoveryLimitMs)}`} s`,
    );
    const clean =
      outcome.lost === 0 && outcome.duplicated === 0 && drainedAt !== undefined && load.feed.resets === 0;
    // rolling-restart: nothing may fail. kill-replica: only creates without a key may (those in
    // flight on the killed replica: the gateway sends idempotent ones to the other), and requests are
    // served again within 5 s. A killed gateway is the edge: the requests in flight on it are lost
    // whatever they were (nothing between it and the client sends them again here; an ingress such
    // as ingress-nginx retries idempotent ones), so for it any failure within 1 s of the kill passes.
    const bar =
      drill === 'rolling-restart'
        ? failed === 0
        : service === 'gateway'
          ? requestRecovery <= 1_000
          : load.keyed.failed === 0 && load.reader.failed === 0 && requestRecovery <= 5_000;
    return clean && bar ? 0 : 1;
  } finally {
    await balancer.close();
    await suite.close();
  }
}
