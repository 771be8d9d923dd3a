// npm run bench:webhooks — the time from an API write to its webhook delivery at a receiver.
// The suite runs as processes on the local stack; an ADMIN subscribes a receiver on this machine to
// `task.*`; the owner PATCHes BENCH_TASKS tasks (default 10) through the gateway at BENCH_RATE per
// second (default 100) for BENCH_SECONDS (default 20), after BENCH_WARMUP_SECONDS (default 10) of the
// same load measured apart. Each delivery is verified with the standardwebhooks package. Prints
// p50/p95/p99/max of write-acknowledged → delivery and event-occurred → delivery, deliveries
// missing or duplicated, and notify's CPU per delivered event. Figures, not assertions.
import { performance } from 'node:perf_hooks';
import { downStarted, up } from '../infra/local/stack.ts';
import { stackEnv } from '../infra/local/services.ts';
import { clearStaleTopics } from '../infra/local/test.ts';
import { TICK_MS, treeTicks } from './cpu.ts';
import { percentile, sendJson, writesAgent } from './load.ts';

const rate = Number(process.env.BENCH_RATE ?? 100);
const seconds = Number(process.env.BENCH_SECONDS ?? 20);
const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? 10);
const taskCount = Number(process.env.BENCH_TASKS ?? 10);

const started = new Set<string>();
await up(started);
Object.assign(process.env, stackEnv());
await clearStaleTopics();
// Imported after the stack env is set: the harness reads it at load time.
const { apiClient } = await import('../e2e/support/client.ts');
const { orgWithMember, startBenchSuite } = await import('./suite.ts');
const { WebhookReceiver, waitFor } = await import('@trellis/shared/testing');
const suite = await startBenchSuite();
const receiver = new WebhookReceiver();
const base = await receiver.start();

interface Phase {
  name: string;
  ackedAt: Map<string, number>;
  fromAck: number[];
  fromEvent: number[];
  received: Set<string>;
  duplicates: number;
  failed: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

try {
  const api = apiClient(suite.gatewayUrl);
  const { owner, orgId, projectId } = await orgWithMember(api, {
    owner: 'Hook Owner',
    member: 'Hook Member',
    org: 'Hooks',
    project: 'Hooks',
    key: 'WH',
  });
  const hook = await api.post<{ id: string; secret: string }>(
    `/orgs/${orgId}/webhooks`,
    { url: `${base}/bench`, events: ['task.*'] },
    owner.token,
  );
  if (hook.status !== 201) throw new Error(`webhook: ${hook.status} ${JSON.stringify(hook.body)}`);
  receiver.secrets.set('/bench', hook.body.secret);
  const tasks: string[] = [];
  for (let i = 0; i < taskCount; i += 1)
    tasks.push(
      (await api.post<{ id: string }>(`/projects/${projectId}/tasks`, { title: `Task ${i}` }, owner.token))
        .body.id,
    );

  const phaseOf = new Map<string, Phase>();
  receiver.onDelivery = (delivery) => {
    const changes = delivery.event.data.changes as { description?: { to?: string } } | undefined;
    const marker = changes?.description?.to;
    const phase = marker ? phaseOf.get(marker) : undefined;
    if (!phase || !marker) return;
    if (phase.received.has(marker)) {
      phase.duplicates += 1;
      return;
    }
    phase.received.add(marker);
    const now = performance.now();
    const acked = phase.ackedAt.get(marker);
    if (acked !== undefined) phase.fromAck.push(now - acked);
    const occurred = Date.parse((delivery.event as unknown as { occurredAt: string }).occurredAt);
    phase.fromEvent.push(Date.now() - occurred);
  };

  const notifyPid = suite.pid('notify');
  async function run(
    name: string,
    duration: number,
  ): Promise<{ phase: Phase; count: number; cpuMs: number }> {
    const phase: Phase = {
      name,
      ackedAt: new Map(),
      fromAck: [],
      fromEvent: [],
      received: new Set(),
      duplicates: 0,
      failed: 0,
    };
    const count = Math.round(rate * duration);
    const before = notifyPid ? treeTicks([notifyPid])[0]! : 0;
    const start = performance.now();
    const writes: Promise<void>[] = [];
    for (let i = 0; i < count; i += 1) {
      const due = start + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const marker = `${name}-${i}`;
      phaseOf.set(marker, phase);
      writes.push(
        sendJson('PATCH', `${suite.gatewayUrl}/api/v1/tasks/${tasks[i % tasks.length]}`, owner.token, {
          description: marker,
        }).then((status) => {
          if (status === 200) phase.ackedAt.set(marker, performance.now());
          else phase.failed += 1;
        }),
      );
    }
    await Promise.all(writes);
    await waitFor(() => phase.received.size >= phase.ackedAt.size, {
      what: `${name}: every delivery`,
      timeoutMs: 120_000,
    }).catch(() => undefined);
    await sleep(1_000);
    const after = notifyPid ? treeTicks([notifyPid])[0]! : 0;
    return { phase, count, cpuMs: (after - before) * TICK_MS };
  }

  const row = (label: string, values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const cells = [50, 95, 99].map((p) => percentile(sorted, p).toFixed(1).padStart(8));
    return `  ${label.padEnd(32)}${cells.join('')}${(sorted.at(-1) ?? NaN).toFixed(1).padStart(8)}`;
  };
  for (const [name, duration] of [
    ['warm-up', warmupSeconds],
    ['measured', seconds],
  ] as const) {
    const { phase, count, cpuMs } = await run(name, duration);
    console.log(
      `\n${name}: ${count} task PATCHes at ${rate}/s over ${duration} s → webhook (task.*) at a local receiver`,
    );
    console.log(`  ${''.padEnd(32)}${['p50', 'p95', 'p99', 'max'].map((h) => h.padStart(8)).join('')}  (ms)`);
    console.log(row('write acknowledged → delivery', phase.fromAck));
    console.log(row('event occurred → delivery', phase.fromEvent));
    console.log(
      `  writes failed ${phase.failed}, deliveries missing ${phase.ackedAt.size - phase.received.size}, duplicated ${phase.duplicates}`,
    );
    console.log(
      `  notify CPU ${cpuMs} ms in all, ${(cpuMs / Math.max(1, phase.received.size)).toFixed(2)} ms per delivered event (feed, fan-out, send)`,
    );
  }
} finally {
  writesAgent.destroy();
  await receiver.close();
  await suite.close();
  await downStarted(started);
}
