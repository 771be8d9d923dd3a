// What a drill measures with: a paced writer that records every answer, the assignee's inbox and
// live feed counted per task, and the suite's consumer lag. Imported after the stack's env is set.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import type { ApiClient } from '../../e2e/support/client.ts';
import { consumerLag } from '../../e2e/support/lag.ts';
import { join, person, type Person } from '../../e2e/support/people.ts';
import { Socket } from '../../e2e/support/socket.ts';

export interface World {
  api: ApiClient;
  owner: Person;
  assignee: Person;
  orgId: string;
  projectId: string;
}

/** An owner, an assignee who joined by invitation and is a project CONTRIBUTOR, and the project. */
export async function world(api: ApiClient): Promise<World> {
  const owner = await person(api, 'Drill Owner');
  const assignee = await person(api, 'Drill Assignee');
  const org = await api.post<{ id: string }>('/orgs', { name: `Drill ${Date.now()}` }, owner.token);
  if (org.status !== 201) throw new Error(`org: ${org.status} ${JSON.stringify(org.body)}`);
  await join(api, org.body.id, owner, assignee, 'MEMBER');
  const project = await api.post<{ id: string }>(
    '/projects',
    { orgId: org.body.id, name: 'Drill', key: 'DRL' },
    owner.token,
  );
  if (project.status !== 201) throw new Error(`project: ${project.status} ${JSON.stringify(project.body)}`);
  const member = await api.post(
    `/projects/${project.body.id}/members`,
    { userId: assignee.id, role: 'CONTRIBUTOR' },
    owner.token,
  );
  if (member.status !== 201) throw new Error(`member: ${member.status} ${JSON.stringify(member.body)}`);
  return { api, owner, assignee, orgId: org.body.id, projectId: project.body.id };
}

export interface Created {
  id: string;
  key: string;
  sentAt: number;
}

/**
 * Creates tasks assigned to the assignee at a steady rate, without waiting for answers (a slow or
 * failing service does not slow the offered load). Every answer is recorded: 201s by key.
 */
export class Writer {
  sent = 0;
  readonly acknowledged = new Map<string, Created>();
  /** Keys answered twice: a key given again after a crash lost the write that first had it. */
  reusedKeys = 0;
  readonly failures = new Map<string, number>();
  /** When each failure happened (performance.now). */
  readonly failedAtTimes: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  private readonly gatewayUrl: string;
  private readonly w: World;
  private readonly idempotencyKeys: boolean;

  /** `idempotencyKeys`: each create carries a key of its own (the gateway may then send it again). */
  constructor(gatewayUrl: string, w: World, options: { idempotencyKeys?: boolean } = {}) {
    this.gatewayUrl = gatewayUrl;
    this.w = w;
    this.idempotencyKeys = options.idempotencyKeys ?? false;
  }

  get failed(): number {
    return [...this.failures.values()].reduce((sum, n) => sum + n, 0);
  }

  start(perSecond: number): void {
    this.timer = setInterval(() => {
      const request = this.createOne().finally(() => this.inFlight.delete(request));
      this.inFlight.add(request);
    }, 1000 / perSecond);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all(this.inFlight);
  }

  private async createOne(): Promise<void> {
    this.sent += 1;
    const sentAt = performance.now();
    try {
      const res = await fetch(`${this.gatewayUrl}/api/v1/projects/${this.w.projectId}/tasks`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${this.w.owner.token}`,
          'content-type': 'application/json',
          ...(this.idempotencyKeys ? { 'idempotency-key': randomUUID() } : {}),
        },
        body: JSON.stringify({ title: `Drill ${this.sent}`, assigneeId: this.w.assignee.id }),
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await res.json().catch(() => ({}))) as { id?: string; key?: string };
      if (res.status === 201 && body.id && body.key)
        this.acknowledged.set(body.key, { id: body.id, key: body.key, sentAt });
      else this.count(String(res.status));
    } catch (error) {
      this.count((error as Error).name === 'TimeoutError' ? 'timeout' : `connection ${failureCause(error)}`);
    }
  }

  private count(what: string): void {
    this.failedAtTimes.push(performance.now());
    this.failures.set(what, (this.failures.get(what) ?? 0) + 1);
  }
}

/** Why a fetch failed without an answer: its cause's code (ECONNRESET, UND_ERR_SOCKET, …). */
export function failureCause(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

/** `task.assigned` notifications in the assignee's inbox, counted per task id. */
export async function inboxAssignments(w: World): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let cursor: string | null = null;
  do {
    const query: string = `/notifications?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await w.api.get<{
      items: Array<{ type: string; subject: { id: string } }>;
      nextCursor: string | null;
    }>(query, w.assignee.token);
    if (res.status !== 200) throw new Error(`inbox: ${res.status} ${JSON.stringify(res.body)}`);
    for (const n of res.body.items)
      if (n.type === 'task.assigned') counts.set(n.subject.id, (counts.get(n.subject.id) ?? 0) + 1);
    cursor = res.body.nextCursor;
  } while (cursor);
  return counts;
}

/**
 * The assignee's live feed (`user:<id>`), as a client that reconnects and resumes from the last seq
 * it saw: `notification.created` events counted per task key, arrival times kept.
 */
export class LiveFeed {
  readonly counts = new Map<string, number>();
  readonly arrivedAt = new Map<string, number>();
  resets = 0;
  private lastSeq: number | undefined;
  private socket: Socket | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;

  private readonly gatewayUrl: string;
  private readonly w: World;

  constructor(gatewayUrl: string, w: World) {
    this.gatewayUrl = gatewayUrl;
    this.w = w;
  }

  async start(): Promise<void> {
    await this.connect();
    this.loop = this.keepConnected();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await this.socket?.close();
  }

  private async connect(): Promise<void> {
    const socket = await Socket.open(this.gatewayUrl, this.w.assignee.token);
    const channel = `user:${this.w.assignee.id}`;
    socket.onMessage((m) => {
      if (m.channel !== channel) return;
      if (m.type === 'reset') this.resets += 1;
      if (m.type !== 'event') return;
      if (m.seq !== undefined) this.lastSeq = m.seq;
      if (m.event?.type !== 'notification.created') return;
      const key = / assigned you ([A-Z0-9]+-\d+)$/.exec(String(m.event.data.title ?? ''))?.[1];
      if (!key) return;
      this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
      if (!this.arrivedAt.has(key)) this.arrivedAt.set(key, performance.now());
    });
    const answer = await socket.subscribe(channel, this.lastSeq);
    if (answer.type !== 'subscribed') throw new Error(`subscribe: ${JSON.stringify(answer)}`);
    this.socket = socket;
  }

  private async keepConnected(): Promise<void> {
    while (!this.stopped) {
      await sleep(250);
      if (this.stopped || !this.socket?.closed) continue;
      try {
        await this.connect();
      } catch {
        // the gateway or notify is still down: try again
      }
    }
  }
}

export async function kafkaAdmin(brokers: string[]): Promise<Admin> {
  const admin = new Kafka({
    clientId: 'drill',
    brokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    connectionTimeout: 1_000,
  }).admin();
  await admin.connect();
  return admin;
}

/**
 * Waits until every consumer group of the suite has committed all it was sent (at most `timeoutMs`)
 * and answers when that was, or undefined. Samples every 250 ms; a broker that does not answer yet
 * counts as not drained.
 */
export async function drained(
  brokers: string[],
  prefix: string,
  timeoutMs: number,
): Promise<number | undefined> {
  const deadline = performance.now() + timeoutMs;
  let admin: Admin | undefined;
  try {
    while (performance.now() < deadline) {
      try {
        admin ??= await kafkaAdmin(brokers);
        const lags = await consumerLag(admin, prefix);
        if (lags.size > 0 && [...lags.values()].every((lag) => lag === 0)) return performance.now();
      } catch {
        await admin?.disconnect().catch(() => undefined);
        admin = undefined;
      }
      await sleep(250);
    }
    return undefined;
  } finally {
    await admin?.disconnect().catch(() => undefined);
  }
}
