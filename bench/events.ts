// npm run bench:events — the deferred work behind API writes: how fast every consumer group drains.
// On a fresh suite (six services as processes, through the gateway), BENCH_WRITERS writers (default
// 8) create BENCH_BURST tasks (default 400) as fast as they can, each assigned to one member who
// holds a WebSocket subscribed to their own `user:` channel. Midway, an invitation is sent,
// another session logs out and a watcher of the project's channel is removed from the org. Prints:
// - the burst's write rate and write latency;
// - for every consumer group of the suite: peak lag, drain rate (events/s) and seconds from the
//   last write to lag 0;
// - last write → every notification in the inbox (unread-count) and at the socket;
// - write → notification at the socket, p50/p99 over the burst;
// - invitation sent → its e-mail at MailDev, logout → the revoked token refused by the gateway,
//   removal from the org → the removed member's project subscription ended (ACCESS_REVOKED);
// - CPU ms per write of every process (the services, Kafka, PostgreSQL, FerretDB, MailDev), over the burst
//   and its drain, and their sum: a task write's whole-suite cost.
// BENCH_RATE=<n> (with BENCH_SECONDS, default 60) runs a sustained load instead of the burst: n
// writes a second, of which 5 in 10 create a task assigned to the member, 3 change the status of
// one of their tasks and 2 comment on one mentioning them — each write notifies them.
// By default it runs on the world (bench/world.ts): 100 000 tasks in 10 projects of 2 orgs, 200 000
// notifications, 50 000 comments and 20 000 chat messages written through the API once and kept in
// the local stack for later runs (the first run seeds it: about half an hour, with progress); the
// burst is the first project's owner assigning its first member. BENCH_WORLD=none runs on a fresh,
// empty suite instead (quick, but it says little about the consumers at size).
// BENCH_READS=<n> reads the member's inbox n times a second while the writes go on (default 0).
// BENCH_CPU_PROF=<dir> writes V8 CPU profiles of every service.
// Figures, not assertions: not part of npm test.
import { readFileSync } from 'node:fs';

import { performance } from 'node:perf_hooks';
import { Kafka, logLevel } from 'kafkajs';
import { downStarted, up } from '../infra/local/stack.ts';
import { paths } from '../infra/local/config.ts';
import { stackEnv } from '../infra/local/services.ts';
import { clearStaleTopics } from '../infra/local/test.ts';
import { TICK_MS, treeTicks } from './cpu.ts';
import { percentile } from './load.ts';

const burst = Number(process.env.BENCH_BURST ?? 400);
const writers = Number(process.env.BENCH_WRITERS ?? 8);
/** Sustained mode: this many writes a second (creates, status changes, mentions) instead of a burst. */
const rate = Number(process.env.BENCH_RATE ?? 0);
const seconds = Number(process.env.BENCH_SECONDS ?? 60);
const total = rate > 0 ? Math.round(rate * seconds) : burst;
/** How long to wait for the backlog to drain before giving up on a figure. */
const drainLimitMs = Number(process.env.BENCH_DRAIN_LIMIT_SECONDS ?? 120) * 1000;
/** On the kept world (default) or on a fresh, empty suite. */
const onWorld = process.env.BENCH_WORLD !== 'none';

const started = new Set<string>();
await up(started);
Object.assign(process.env, stackEnv());
await clearStaleTopics();
// Imported after the stack env is set: the harness reads it at load time.
const { SERVICES } = await import('../e2e/support/suite.ts');
const { apiClient } = await import('../e2e/support/client.ts');
const { join, person } = await import('../e2e/support/people.ts');
const { orgWithMember, startBenchSuite } = await import('./suite.ts');
const { Socket } = await import('../e2e/support/socket.ts');
const { consumerLag } = await import('../e2e/support/lag.ts');
const { worldPeople, worldSuite } = await import('./world.ts');
const serviceLogLevel = process.env.BENCH_LOG_LEVEL ?? 'error';
const kafka = new Kafka({ brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const { suite, world } = onWorld
  ? await worldSuite((keptAs) => startBenchSuite(serviceLogLevel, keptAs), admin)
  : { suite: await startBenchSuite(serviceLogLevel), world: undefined };

function infraPid(name: string): number | undefined {
  try {
    return Number(readFileSync(paths.pid(name), 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}
const processes = (): Array<[string, number]> =>
  [
    ...SERVICES.map((name): [string, number | undefined] => [name, suite.pid(name)]),
    ...['kafka', 'postgres', 'ferretdb', 'maildev'].map((name): [string, number | undefined] => [
      name,
      infraPid(name),
    ]),
  ].filter((entry): entry is [string, number] => entry[1] !== undefined);
const cpuSnapshot = () => {
  const running = processes();
  const ticks = treeTicks(running.map(([, pid]) => pid));
  return new Map(running.map(([name], i) => [name, ticks[i]!]));
};

/**
 * Whether MailDev holds a mail to the address, written exactly so: its own filter, as a local MailDev
 * holds tens of thousands of mails after a few runs (fetching them all took 0.7 s).
 */
async function mailsTo(address: string): Promise<number> {
  const query = new URLSearchParams({ 'to.address': address });
  const response = await fetch(`${process.env.MAILDEV_URL ?? 'http://127.0.0.1:1080'}/email?${query}`);
  return ((await response.json()) as unknown[]).length;
}
const mailArrived = async (address: string) => (await mailsTo(address)) > 0;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const api = apiClient(suite.gatewayUrl);
const people = world
  ? await worldPeople(api, world)
  : {
      ...(await orgWithMember(api, {
        owner: 'Bench Owner',
        member: 'Bench Assignee',
        org: 'Events',
        project: 'Events',
        key: 'EV',
      })),
      restore: async () => undefined,
    };
try {
  const { owner, member: assignee, orgId, projectId } = people;
  if (!world) {
    const member = await api.post(
      `/projects/${projectId}/members`,
      { userId: assignee.id, role: 'CONTRIBUTOR' },
      owner.token,
    );
    if (member.status !== 201) throw new Error(`member: ${member.status} ${JSON.stringify(member.body)}`);
  }
  // A second session of the owner, logged out during the burst.
  const second = await api.post<{ accessToken: string; refreshToken: string }>('/auth/login', {
    email: owner.email,
    password: 'correct horse battery',
  });
  const invitee = `invitee-${Date.now()}@example.test`;
  // A member watching the project's channel, removed from the org during the burst.
  const watcher = await person(api, 'Bench Watcher');
  await join(api, orgId, owner, watcher, 'MEMBER');
  const watcherSocket = await Socket.open(suite.gatewayUrl, watcher.token);
  const watching = await watcherSocket.subscribe(`project:${projectId}`);
  if (watching.type !== 'subscribed') throw new Error(`watcher subscribe: ${JSON.stringify(watching)}`);

  const socket = await Socket.open(suite.gatewayUrl, assignee.token);
  const channel = `user:${assignee.id}`;
  const subscribed = await socket.subscribe(channel);
  if (subscribed.type !== 'subscribed') throw new Error(`subscribe: ${JSON.stringify(subscribed)}`);
  // Every write carries a marker (`m<i>x`) that its notification repeats in its title or body.
  const sentAt = new Map<string, number>();
  const receivedAt = new Map<string, number>();
  let notificationsAtSocket = 0;
  socket.onMessage((m) => {
    if (m.type !== 'event' || m.channel !== channel || m.event?.type !== 'notification.created') return;
    notificationsAtSocket += 1;
    const { title = '', body = '' } = m.event.data as { title?: string; body?: string };
    const marker = /m\d+x/.exec(`${title} ${body}`)?.[0];
    if (marker && !receivedAt.has(marker)) receivedAt.set(marker, performance.now());
  });

  // Consumer groups of this suite, sampled every 250 ms from the burst's start until all are at 0.
  const prefix = suite.topicPrefix;
  // Live groups only: the kept world holds the groups of earlier runs' processes too.
  const lagOf = () => consumerLag(admin, prefix, { liveOnly: true });
  const samples: Array<{ at: number; lags: Map<string, number> }> = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      samples.push({ at: performance.now(), lags: await lagOf() });
      await sleep(250);
    }
  })();

  // Sustained mode writes status changes and mentions on a pool of the member's tasks too.
  const pool: Array<{ id: string; status: 'TODO' | 'IN_PROGRESS' }> = [];
  if (rate > 0)
    for (let i = 0; i < 20; i += 1) {
      const res = await api.post<{ id: string }>(
        `/projects/${projectId}/tasks`,
        { title: `Pool ${i}`, assigneeId: assignee.id },
        owner.token,
      );
      pool.push({ id: res.body.id, status: 'TODO' });
    }
  await sleep(2_000); // their notifications out of the way
  console.log(
    rate > 0
      ? `\nsustained: ${rate} writes/s for ${seconds} s (5 in 10 creates assigned to one member, 3 status changes ` +
          `of their tasks, 2 comments mentioning them)`
      : `\nburst: ${burst} task creates assigned to one member, ${writers} writers, as fast as they go`,
  );
  // Inbox reads while the writes go on: the member's list and unread count, BENCH_READS a second.
  const readsPerSecond = Number(process.env.BENCH_READS ?? 0);
  const inboxReads: number[] = [];
  const inboxFailures = new Map<number, number>();
  let reading = readsPerSecond > 0;
  const reader = (async () => {
    for (let i = 0; reading; i += 1) {
      const t0 = performance.now();
      const res = await api.get(
        i % 2 ? '/notifications/unread-count' : '/notifications?limit=20',
        assignee.token,
      );
      inboxReads.push(performance.now() - t0);
      if (res.status !== 200) inboxFailures.set(res.status, (inboxFailures.get(res.status) ?? 0) + 1);
      await sleep(Math.max(0, 1000 / readsPerSecond - (performance.now() - t0)));
    }
  })();
  const cpuBefore = cpuSnapshot();
  const start = performance.now();
  const writeLatency: number[] = [];
  let failed = 0;
  let invitationSentAt = 0;
  let logoutAt = 0;
  let revokedAfter = NaN;
  let invitationAfter = NaN;
  let removalAfter = NaN;
  /** An invitation, a logout and a removal while the writes go on, and how soon each takes effect. */
  const midway = async () => {
    invitationSentAt = performance.now();
    await api.post(`/orgs/${orgId}/invitations`, { email: invitee, role: 'MEMBER' }, owner.token);
    logoutAt = performance.now();
    await api.post('/auth/logout', { refreshToken: second.body.refreshToken }, second.body.accessToken);
    const removedAt = performance.now();
    const removed = await api.delete(`/orgs/${orgId}/members/${watcher.id}`, owner.token);
    if (removed.status !== 204) throw new Error(`removal: ${removed.status} ${JSON.stringify(removed.body)}`);
    await Promise.all([
      watcherSocket
        .next((m) => m.type === 'unsubscribed', 'the watcher unsubscribed', 0, drainLimitMs)
        .then(() => void (removalAfter = performance.now() - removedAt)),
      (async () => {
        while (performance.now() - logoutAt < 30_000) {
          if ((await api.get('/users/me', second.body.accessToken)).status === 401)
            return void (revokedAfter = performance.now() - logoutAt);
          await sleep(20);
        }
      })(),
      (async () => {
        while (performance.now() - invitationSentAt < drainLimitMs) {
          if (await mailArrived(invitee))
            return void (invitationAfter = performance.now() - invitationSentAt);
          await sleep(50);
        }
      })(),
    ]);
  };
  let midwayDone: Promise<void> | undefined;
  let mailsExpected = 0;
  // Notifications the member had before (the world's): the inbox figure counts the burst's only.
  const unreadBefore = (await api.get<{ count: number }>('/notifications/unread-count', assignee.token)).body
    .count;
  // Mails the member had before (being added to the project, for one).
  const mailsBefore = await mailsTo(assignee.email);
  const write = async (i: number): Promise<void> => {
    if (i === Math.floor(total / 2)) midwayDone = midway();
    const marker = `m${i}x`;
    const kind =
      rate > 0
        ? (['create', 'status', 'comment'] as const)[[0, 0, 0, 0, 0, 1, 1, 1, 2, 2][i % 10]!]!
        : 'create';
    const task = pool[i % Math.max(pool.length, 1)];
    const t0 = performance.now();
    sentAt.set(marker, t0);
    let res;
    if (kind === 'create' || !task)
      res = await api.post(
        `/projects/${projectId}/tasks`,
        { title: `Task ${marker}`, assigneeId: assignee.id },
        owner.token,
      );
    else if (kind === 'status') {
      task.status = task.status === 'TODO' ? 'IN_PROGRESS' : 'TODO';
      res = await api.patch(
        `/tasks/${task.id}`,
        { title: `Task ${marker}`, status: task.status },
        owner.token,
      );
    } else
      res = await api.post(
        '/comments',
        { taskId: task.id, body: `Please look <@${assignee.id}> ${marker}` },
        owner.token,
      );
    writeLatency.push(performance.now() - t0);
    // Assignments and mentions e-mail the member too (their default preferences); status changes do not.
    if (res.status < 300 && kind !== 'status') mailsExpected += 1;
    if (res.status >= 300) {
      sentAt.delete(marker);
      if (failed === 0) console.log(`first failure (${kind}): ${res.status} ${JSON.stringify(res.body)}`);
      failed += 1;
    }
  };
  if (rate > 0) {
    const writes: Promise<void>[] = [];
    for (let i = 0; i < total; i += 1) {
      const wait = start + (i * 1000) / rate - performance.now();
      if (wait > 0) await sleep(wait);
      writes.push(write(i));
    }
    await Promise.all(writes);
  } else {
    let next = 0;
    await Promise.all(
      Array.from({ length: writers }, async () => {
        while (next < total) await write(next++);
      }),
    );
  }
  const lastWrite = performance.now();
  reading = false;
  await reader;
  await midwayDone;

  // Every write's notification at the socket, then as many in the inbox (polled: good to 200 ms).
  while (performance.now() - lastWrite < drainLimitMs && receivedAt.size < sentAt.size) await sleep(50);
  let inboxAt = NaN;
  while (performance.now() - lastWrite < drainLimitMs) {
    const res = await api.get<{ count: number }>('/notifications/unread-count', assignee.token);
    if (res.body.count - unreadBefore >= notificationsAtSocket) {
      inboxAt = performance.now();
      break;
    }
    // Not more often: on FerretDB v1 the count reads the whole collection (seeded, 1 s and more).
    await sleep(200);
  }
  // Every group at lag 0.
  while (performance.now() - lastWrite < drainLimitMs) {
    const last = samples.at(-1);
    if (last && last.at > lastWrite && [...last.lags.values()].every((lag) => lag === 0)) break;
    await sleep(100);
  }
  sampling = false;
  await sampler;
  // The notification e-mails go behind the consumers (notify's mail queue): every one at MailDev.
  let mailsAt = NaN;
  let mailsSeen = 0;
  while (performance.now() - lastWrite < drainLimitMs) {
    mailsSeen = (await mailsTo(assignee.email)) - mailsBefore;
    if (mailsSeen >= mailsExpected) {
      mailsAt = performance.now();
      break;
    }
    await sleep(250);
  }
  const drainedAt = Math.max(samples.at(-1)?.at ?? 0, Number.isNaN(mailsAt) ? performance.now() : mailsAt);
  const cpuAfter = cpuSnapshot();

  const writeSeconds = (lastWrite - start) / 1000;
  const sortedWrites = [...writeLatency].sort((a, b) => a - b);
  console.log(
    `writes: ${total - failed} acknowledged, ${failed} failed, in ${writeSeconds.toFixed(1)} s (${((total - failed) / writeSeconds).toFixed(0)}/s); ` +
      `latency p50 ${percentile(sortedWrites, 50).toFixed(1)} ms, p99 ${percentile(sortedWrites, 99).toFixed(1)} ms`,
  );

  console.log(
    '\nconsumer group                          peak lag   drain (events/s)   last write → lag 0 (s)',
  );
  const groups = [...new Set(samples.flatMap((s) => [...s.lags.keys()]))].sort();
  for (const group of groups) {
    const series = samples.map((s) => ({ at: s.at, lag: s.lags.get(group) ?? 0 }));
    const peak = Math.max(...series.map((s) => s.lag));
    const peakAt = series.find((s) => s.lag === peak)?.at ?? start;
    const zeroAt = series.find((s) => s.at >= peakAt && s.lag === 0)?.at;
    const drainRate = zeroAt && zeroAt > peakAt ? peak / ((zeroAt - peakAt) / 1000) : NaN;
    const toZero = zeroAt === undefined ? 'not drained' : Math.max(0, (zeroAt - lastWrite) / 1000).toFixed(1);
    console.log(
      `${group.slice(prefix.length).padEnd(38)} ${String(peak).padStart(9)} ${(peak === 0 ? '—' : drainRate.toFixed(0)).padStart(18)} ${toZero.padStart(24)}`,
    );
  }

  const atSocket = [...sentAt].flatMap(([marker, sent]) => {
    const received = receivedAt.get(marker);
    return received === undefined ? [] : [received - sent];
  });
  const lastAtSocket = Math.max(...[...sentAt.keys()].map((marker) => receivedAt.get(marker) ?? NaN));
  if (process.env.BENCH_LAG_SERIES)
    for (const group of groups)
      console.log(
        `${group.slice(prefix.length)}: ` +
          samples
            .filter((_, i) => i % 2 === 0)
            .map((s) => `${((s.at - start) / 1000).toFixed(1)}:${s.lags.get(group) ?? 0}`)
            .join(' '),
      );
  const sortedSocket = [...atSocket].sort((a, b) => a - b);
  console.log(
    `\nlast write → the inbox holds all ${notificationsAtSocket} notifications: ${((inboxAt - lastWrite) / 1000).toFixed(2)} s`,
  );
  console.log(
    `last write → all at the socket: ${atSocket.length} of ${total - failed} received, ` +
      `${((lastAtSocket - lastWrite) / 1000).toFixed(2)} s after the last write`,
  );
  console.log(
    `write → notification at the socket: p50 ${percentile(sortedSocket, 50).toFixed(0)} ms, ` +
      `p99 ${percentile(sortedSocket, 99).toFixed(0)} ms, max ${(sortedSocket.at(-1) ?? NaN).toFixed(0)} ms`,
  );
  console.log(
    `last write → all ${mailsExpected} notification e-mails at MailDev: ${mailsSeen} of ${mailsExpected}, ` +
      `${((mailsAt - lastWrite) / 1000).toFixed(2)} s`,
  );
  console.log(`invitation sent midway → its e-mail: ${(invitationAfter / 1000).toFixed(2)} s`);
  console.log(`logout midway → token refused at the gateway: ${(revokedAfter / 1000).toFixed(2)} s`);
  console.log(
    `member removed from the org midway → their project subscription ended: ${(removalAfter / 1000).toFixed(2)} s`,
  );
  if (inboxReads.length > 0) {
    const sortedReads = [...inboxReads].sort((a, b) => a - b);
    const failures = [...inboxFailures].map(([status, n]) => `${n}× ${status}`).join(', ') || 'none failed';
    console.log(
      `inbox reads while writing (list and unread-count, one sequential reader): ${inboxReads.length}, ${failures}; ` +
        `p50 ${percentile(sortedReads, 50).toFixed(0)} ms, p99 ${percentile(sortedReads, 99).toFixed(0)} ms`,
    );
  }

  console.log(
    `\nCPU per write (ms), from the burst's start to lag 0 and every e-mail sent (${((drainedAt - start) / 1000).toFixed(1)} s):`,
  );
  let cpuTotal = 0;
  for (const [name, before] of cpuBefore) {
    const ms = ((cpuAfter.get(name) ?? before) - before) * TICK_MS;
    cpuTotal += ms;
    console.log(`  ${name.padEnd(10)} ${(ms / (total - failed)).toFixed(2).padStart(7)}`);
  }
  console.log(`  ${'all'.padEnd(10)} ${(cpuTotal / (total - failed)).toFixed(2).padStart(7)}`);
  await socket.close();
  await watcherSocket.close();
} finally {
  await people.restore();
  await admin.disconnect();
  await suite.close();
  await downStarted(started);
}
