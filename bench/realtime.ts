// npm run bench:realtime — the time from an API write to the event at a subscribed WebSocket.
// One user PATCHes tasks through the gateway at a steady rate (BENCH_RATE per second, default 100,
// for BENCH_SECONDS, default 20, after BENCH_WARMUP_SECONDS of the same load, measured apart: default
// 10, or 60 when this run starts Kafka) across BENCH_TASKS tasks (default 10, so the events travel
// on several Kafka partitions); another user's socket, subscribed to the project channel through
// the gateway's /ws, receives each task.updated. Prints p50/p95/p99/max of write-sent → event-received
// and write-acknowledged → event-received (and write-sent → acknowledged, the write path alone),
// and checks the channel's seqs arrived in order and gap-free, and (on Linux) how busy the machine's
// CPUs were while the writes went out. Figures, not assertions: not part of npm test.
// BENCH_CPU_PROF=<dir> writes V8 CPU profiles of every service (one folder each).
// BENCH_TIMELINE=<file> writes every write's times as CSV (phase; sent, as epoch ms and ms into the
// phase; write sent → acknowledged and → event at socket): when the slow ones came, together or not.
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { performance } from 'node:perf_hooks';
import { downStarted, up } from '../infra/local/stack.ts';
import { stackEnv } from '../infra/local/services.ts';
import { clearStaleTopics } from '../infra/local/test.ts';
import { percentile, sendJson, writesAgent } from './load.ts';

const rate = Number(process.env.BENCH_RATE ?? 100);
const seconds = Number(process.env.BENCH_SECONDS ?? 20);
const taskCount = Number(process.env.BENCH_TASKS ?? 10);

const started = new Set<string>();
await up(started);
// The services always start fresh here: ≈10 s of load brings their JIT to speed. A Kafka this run has
// just started needs about a minute (with its C1-only JIT, see infra/local/README.md: measured phase
// p99 24–35 ms after 10 s, 18–41 ms after 60 s).
const kafkaCold = started.has('kafka');
const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? (kafkaCold ? 60 : 10));
Object.assign(process.env, stackEnv());
// As `npm test` does: earlier runs' test topics weigh on the broker (its heap, its GC pauses).
await clearStaleTopics();
// Imported after the stack env is set: the harness reads it at load time.
const { apiClient } = await import('../e2e/support/client.ts');
const { orgWithMember, startBenchSuite } = await import('./suite.ts');
const { Socket } = await import('../e2e/support/socket.ts');
const timelineFile = process.env.BENCH_TIMELINE && resolvePath(process.env.BENCH_TIMELINE);
const suite = await startBenchSuite();

/**
 * The machine's busy and total CPU time so far (Linux's /proc/stat, in clock ticks); undefined
 * elsewhere. Everything runs on one machine, so how busy it was explains much of the tail.
 */
function cpuTicks(): { busy: number; total: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const total = fields.reduce((sum, n) => sum + n, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

try {
  const api = apiClient(suite.gatewayUrl);
  const {
    owner: writer,
    member: reader,
    projectId,
  } = await orgWithMember(api, {
    owner: 'Bench Writer',
    member: 'Bench Reader',
    org: 'Bench',
    project: 'Realtime',
    key: 'RT',
  });
  const tasks: string[] = [];
  for (let i = 0; i < taskCount; i += 1) {
    const res = await api.post<{ id: string }>(
      `/projects/${projectId}/tasks`,
      { title: `Task ${i}` },
      writer.token,
    );
    tasks.push(res.body.id);
  }

  const socket = await Socket.open(suite.gatewayUrl, reader.token);
  const channel = `project:${projectId}`;
  const subscribed = await socket.subscribe(channel);
  if (subscribed.type !== 'subscribed') throw new Error(`subscribe: ${JSON.stringify(subscribed)}`);

  /** One phase's writes at the steady rate, and what the socket saw of them. */
  interface Phase {
    name: string;
    count: number;
    sentAt: Map<string, number>;
    ackedAt: Map<string, number>;
    receivedAt: Map<string, number>;
    fromSend: number[];
    fromAck: number[];
    ackLatency: number[];
    failedStatuses: Map<number, number>;
    /** Share of the machine's CPU time that was busy while the writes went out (Linux only). */
    cpuBusy: number | undefined;
    start: number;
    sent: number;
    acked: number;
  }
  const phaseOf = new Map<string, Phase>();
  const seqs: number[] = [];
  socket.onMessage((m) => {
    // Every event on the channel (both phases), for the order and gap checks.
    if (m.type === 'event' && m.channel === channel) seqs.push(m.seq ?? 0);
    const marker =
      m.type === 'event' && m.channel === channel ? m.event?.data.changes?.description?.to : undefined;
    const phase = typeof marker === 'string' ? phaseOf.get(marker) : undefined;
    if (!phase || marker === undefined) return;
    const now = performance.now();
    phase.receivedAt.set(marker, now);
    phase.fromSend.push(now - phase.sentAt.get(marker)!);
    const acked = phase.ackedAt.get(marker);
    if (acked !== undefined) phase.fromAck.push(now - acked);
  });

  const taskUrl = `${suite.gatewayUrl}/api/v1/tasks`;
  /** Writes `seconds` worth of updates at the rate, then waits for their events (15 s at most). */
  const drive = async (name: string, phaseSeconds: number): Promise<Phase> => {
    const phase: Phase = {
      name,
      count: Math.round(rate * phaseSeconds),
      sentAt: new Map(),
      ackedAt: new Map(),
      receivedAt: new Map(),
      fromSend: [],
      fromAck: [],
      ackLatency: [],
      failedStatuses: new Map(),
      cpuBusy: undefined,
      start: performance.now(),
      sent: 0,
      acked: 0,
    };
    const writes: Promise<void>[] = [];
    const cpuBefore = cpuTicks();
    for (let i = 0; i < phase.count; i += 1) {
      const due = phase.start + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const marker = `${name}-${i}`;
      phaseOf.set(marker, phase);
      phase.sentAt.set(marker, performance.now());
      writes.push(
        sendJson('PATCH', `${taskUrl}/${tasks[i % tasks.length]}`, writer.token, {
          description: marker,
        }).then((status) => {
          if (status !== 200) {
            phase.failedStatuses.set(status, (phase.failedStatuses.get(status) ?? 0) + 1);
            return;
          }
          const now = performance.now();
          phase.ackedAt.set(marker, now);
          phase.ackLatency.push(now - phase.sentAt.get(marker)!);
        }),
      );
    }
    phase.sent = performance.now();
    const cpuAfter = cpuTicks();
    if (cpuBefore && cpuAfter)
      phase.cpuBusy = (cpuAfter.busy - cpuBefore.busy) / (cpuAfter.total - cpuBefore.total);
    await Promise.all(writes);
    phase.acked = performance.now();
    const deadline = Date.now() + 15_000;
    while (phase.fromSend.length < phase.ackedAt.size && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    return phase;
  };

  const row = (name: string, v: number[]) => {
    const sorted = [...v].sort((a, b) => a - b);
    const cells = [50, 95, 99].map((p) => percentile(sorted, p).toFixed(1).padStart(8));
    return `${name.padEnd(28)} ${cells.join('')}${(sorted.at(-1) ?? NaN).toFixed(1).padStart(9)}`;
  };
  const report = (phase: Phase) => {
    const failures = phase.count - phase.ackedAt.size;
    const failed = [...phase.failedStatuses].map(([status, n]) => `${n}× ${status}`).join(', ');
    // Rates over the time the writes took, not over the wait for the events that follows them.
    const rateOver = (until: number) => (phase.count / ((until - phase.start) / 1000)).toFixed(1);
    console.log(
      `\n${phase.name}: writes ${phase.count - failures} ok, ${failures} failed${failed ? ` (${failed})` : ''}; ` +
        `events received: ${phase.fromSend.length}; sent at ${rateOver(phase.sent)}/s, all acknowledged at ${rateOver(phase.acked)}/s`,
    );
    if (phase.cpuBusy !== undefined)
      console.log(
        `machine CPU busy while sending: ${(phase.cpuBusy * 100).toFixed(0)}% of ${availableParallelism()} cores ` +
          `(the stack, the six services and this load generator share them)`,
      );
    console.log('latency (ms)                      p50     p95     p99      max');
    console.log(row('write sent → event at socket', phase.fromSend));
    console.log(row('write acked → event at socket', phase.fromAck));
    console.log(row('write sent → acknowledged', phase.ackLatency));
  };

  // The services and Kafka have just started: their JIT compilers are still at work for the
  // first seconds of load, so the same load runs unmeasured first (its figures are printed too).
  console.log(
    `\nwarm-up: ${warmupSeconds} s${kafkaCold && !process.env.BENCH_WARMUP_SECONDS ? ' (Kafka was started by this run: it needs about a minute to warm up)' : ''}, ` +
      `then measured: ${seconds} s; ${rate} task updates/s over ${taskCount} tasks; one subscriber on ${channel}`,
  );
  const warmUp = warmupSeconds > 0 ? await drive('warm-up', warmupSeconds) : undefined;
  const measured = await drive('measured', seconds);

  const ordered = [...seqs].sort((a, b) => a - b);
  const gapFree = ordered.every((seq, i) => seq === (subscribed.seq ?? 0) + i + 1);
  const inOrder = seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]!);
  if (warmUp) report(warmUp);
  report(measured);
  if (timelineFile) {
    const rows = [warmUp, measured].flatMap((phase) =>
      phase
        ? [...phase.sentAt].map(([marker, sent]) => {
            const after = (at: number | undefined) => (at === undefined ? '' : (at - sent).toFixed(2));
            const epoch = (performance.timeOrigin + sent).toFixed(1);
            return `${phase.name},${epoch},${(sent - phase.start).toFixed(2)},${after(phase.ackedAt.get(marker))},${after(phase.receivedAt.get(marker))}`;
          })
        : [],
    );
    writeFileSync(timelineFile, ['phase,sent_epoch_ms,sent_ms,acked_ms,event_ms', ...rows].join('\n') + '\n');
    console.log(`timeline: ${timelineFile}`);
  }
  console.log(`\nseqs on the channel (both phases): in order: ${inOrder}, gap-free: ${gapFree}`);
  console.log(`goal: p99 (write sent → event, measured) under 50 ms at 100 updates/s`);
  await socket.close();
} finally {
  writesAgent.destroy();
  await suite.close();
  await downStarted(started);
}
