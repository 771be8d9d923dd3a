import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { waitFor } from '@trellis/shared/testing';
import { apiClient, type ApiClient } from './client.ts';
import { join, person, type Person } from './people.ts';
import { Socket } from './socket.ts';
import { startSuite, type Suite } from './suite.ts';

export type ProjectRole = 'OWNER' | 'MANAGER' | 'LEAD' | 'CONTRIBUTOR' | 'VIEWER';
export type Visibility = 'ORG' | 'PRIVATE';

/** A project of the world, with a task of the org owner's to comment on. */
export interface RoleProject {
  id: string;
  key: string;
  visibility: Visibility;
  /** The task the collab check comments on (none while the project waits for approval). */
  probeTaskId: string;
}

interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** How long a service may take to follow a change (collab and notify read events). */
const SETTLE_MS = 20_000;

/**
 * Waits until `probe` answers true; on timeout fails with what it saw last, so a disagreement
 * between services reads as one (e.g. "collab: 403 VIEWER" where work says OWNER).
 */
async function settle(what: string, probe: () => Promise<true | string>): Promise<void> {
  let last = '';
  try {
    await waitFor(
      async () => {
        const seen = await probe();
        if (seen === true) return true;
        last = seen;
        return false;
      },
      { what, timeoutMs: SETTLE_MS, intervalMs: 150 },
    );
  } catch {
    assert.fail(`${what}: still ${last} after ${SETTLE_MS} ms`);
  }
}

/**
 * One org with the people issue 20's cases need (an OWNER, an ADMIN and plain MEMBERs), a socket
 * per person, and the checks that ask work, collab and notify what role someone has on a project.
 */
export class RoleWorld {
  readonly api: ApiClient;
  readonly orgId: string;
  readonly owner: Person;
  readonly people: Record<string, Person>;
  private readonly sockets = new Map<string, Socket>();
  /** The task `notified` last assigned to someone in a project (`<projectId> <userId>`). */
  private readonly assigned = new Map<string, string>();

  private constructor(api: ApiClient, orgId: string, owner: Person, people: Record<string, Person>) {
    this.api = api;
    this.orgId = orgId;
    this.owner = owner;
    this.people = people;
  }

  /** The org (plan PRO: more than FREE's 10 projects; MEMBERs may create projects), its people. */
  static async create(suite: Suite, admins: string[], members: string[]): Promise<RoleWorld> {
    const api = apiClient(suite.gatewayUrl);
    const owner = await person(api, 'Olga Owner');
    const org = await api.post<{ id: string }>(
      '/orgs',
      { name: `Roles ${randomUUID().slice(0, 6)}` },
      owner.token,
    );
    assert.equal(org.status, 201, JSON.stringify(org.body));
    const settings = await api.patch(
      `/orgs/${org.body.id}/settings`,
      { plan: 'PRO', thresholds: { 'project.create': 'MEMBER' } },
      owner.token,
    );
    assert.equal(settings.status, 200, JSON.stringify(settings.body));
    const people: Record<string, Person> = {};
    // One after the other: each join polls MailDev, shared with every other suite running.
    for (const [name, role] of [...admins.map((n) => [n, 'ADMIN']), ...members.map((n) => [n, 'MEMBER'])]) {
      const who = await person(api, name as string);
      await join(api, org.body.id, owner, who, role as string);
      people[name as string] = who;
    }
    const world = new RoleWorld(api, org.body.id, owner, people);
    for (const who of [owner, ...Object.values(people)])
      world.sockets.set(who.id, await Socket.open(suite.gatewayUrl, who.token));
    return world;
  }

  async close(): Promise<void> {
    await Promise.all([...this.sockets.values()].map((s) => s.close()));
  }

  /**
   * A suite of its own (the rate limit out of the way) and a world on it; `people` in the order
   * named, admins first; `close` stops both.
   */
  static async start(admins: string[], members: string[]) {
    const suite = await startSuite({ env: { gateway: { RATE_LIMIT_PER_USER: '100000' } } });
    const world = await RoleWorld.create(suite, admins, members);
    const people = [...admins, ...members].map((name) => world.people[name] as Person);
    const close = async () => {
      await world.close();
      await suite.close();
    };
    return { world, people, close };
  }

  /**
   * A new project by `who` (201, or 202 when it waits for approval), with the owner's probe task.
   * Work learns org settings from governance's events: until it has applied the ones a case just
   * set (MEMBERs may create, or creations need approval), a creation is refused or goes through at
   * once; such an attempt is not the case under test, so it is undone and tried again.
   */
  async project(
    who: Person,
    key: string,
    visibility: Visibility,
    extra: { teamId?: string; pending?: boolean } = {},
  ): Promise<RoleProject> {
    const body = { orgId: this.orgId, name: `Project ${key}`, key, visibility, teamId: extra.teamId };
    type Created = { id: string; myRole: string; code?: string; project?: { id: string; myRole: string } };
    const expected = extra.pending ? 202 : 201;
    let last = '';
    const res = await waitFor(
      async () => {
        const attempt = await this.api.post<Created>('/projects', body, who.token);
        last = JSON.stringify(attempt.body);
        if (attempt.status === expected) return attempt;
        if (attempt.status === 201) {
          const undone = await this.api.delete(`/projects/${attempt.body.id}`, who.token);
          assert.equal(undone.status, 204, JSON.stringify(undone.body));
        } else assert.equal(attempt.body.code, 'POLICY_DENIED', last);
        return undefined;
      },
      { what: `project ${key} answered ${expected}`, timeoutMs: SETTLE_MS, intervalMs: 200 },
    ).catch(() => assert.fail(`project ${key}: no ${expected}, last ${last}`));
    const created = res.body.project ?? res.body;
    assert.equal(created.myRole, 'OWNER', 'the creator owns it');
    const project = { id: created.id, key, visibility, probeTaskId: '' };
    if (!extra.pending) await this.addProbe(project);
    return project;
  }

  /** The task the collab check comments on, by the org OWNER (OWNER of every project). */
  async addProbe(project: RoleProject): Promise<void> {
    project.probeTaskId = (await this.task(project, { title: `Probe of ${project.key}` })).id;
  }

  async task(project: RoleProject, body: Record<string, unknown>): Promise<{ id: string }> {
    const res = await this.api.post<{ id: string }>(`/projects/${project.id}/tasks`, body, this.owner.token);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body;
  }

  /**
   * Work, collab and notify agree that `who` has `role` on the project (null: no access at all):
   * work's `myRole`; collab's comment (201 from CONTRIBUTOR on, 403 POLICY_DENIED for a VIEWER,
   * 404 without access) and its channel list; notify's subscription to `project:<id>`.
   */
  async agree(who: Person, project: RoleProject, role: ProjectRole | null): Promise<void> {
    const label = `${who.name} on ${project.key} (${project.visibility}) should be ${role ?? 'nobody'}`;
    const { api } = this;
    const socket = this.sockets.get(who.id);
    assert.ok(socket, `a socket for ${who.name}`);
    const checks: Promise<void>[] = [
      settle(`work: ${label}`, async () => {
        const res = await api.get<{ myRole?: string }>(`/projects/${project.id}`, who.token);
        if (role === null) return res.status === 404 || `${res.status} ${res.body.myRole ?? ''}`;
        return (res.status === 200 && res.body.myRole === role) || `${res.status} ${res.body.myRole ?? ''}`;
      }),
      settle(`collab channels: ${label}`, async () => {
        const res = await api.get<Page<{ scope: string; scopeId: string }>>(
          `/channels?orgId=${this.orgId}&limit=100`,
          who.token,
        );
        if (res.status !== 200) return `${res.status}`;
        const listed = res.body.items.some((c) => c.scope === 'project' && c.scopeId === project.id);
        return listed === (role !== null) || (listed ? 'listed' : 'not listed');
      }),
      settle(`notify project:<id>: ${label}`, async () => {
        const answer = await socket.subscribe(`project:${project.id}`);
        const seen = answer.type === 'error' ? `error ${answer.code ?? ''}` : answer.type;
        return seen === (role === null ? 'error NOT_FOUND' : 'subscribed') || seen;
      }),
    ];
    if (project.probeTaskId)
      checks.push(
        settle(`collab comment: ${label}`, async () => {
          const res = await api.post<{ code?: string; policy?: { yourRole?: string } }>(
            '/comments',
            { taskId: project.probeTaskId, body: `${who.name} checks in` },
            who.token,
          );
          const seen = `${res.status} ${res.body.code ?? ''} ${res.body.policy?.yourRole ?? ''}`.trim();
          if (role === null) return res.status === 404 || seen;
          if (role === 'VIEWER')
            return (
              (res.status === 403 &&
                res.body.code === 'POLICY_DENIED' &&
                res.body.policy?.yourRole === role) ||
              seen
            );
          return res.status === 201 || seen;
        }),
        // Decided on collab's projection alone (no token: the mentioned user is not the caller).
        settle(`collab mention: ${label}`, async () => {
          const res = await api.post<{ mentions?: string[] }>(
            '/comments',
            { taskId: project.probeTaskId, body: `Over to <@${who.id}>` },
            this.owner.token,
          );
          // The org OWNER is refused only when the project is gone for everyone.
          if (res.status === 404) return role === null || '404 for the org OWNER';
          if (res.status !== 201) return `${res.status}`;
          const kept = res.body.mentions?.includes(who.id) ?? false;
          return kept === (role !== null) || (kept ? 'mention kept' : 'mention dropped');
        }),
      );
    await Promise.all(checks);
  }

  /** `agree` for several people at once. */
  async all(project: RoleProject, expected: [Person, ProjectRole | null][]): Promise<void> {
    await Promise.all(expected.map(([who, role]) => this.agree(who, project, role)));
  }

  /**
   * notify treats `who` as one of the project's people: a task assigned to them (so CONTRIBUTOR+)
   * changes status and they get `task.statusChanged` for it (decided on notify's projection alone).
   */
  async notified(who: Person, project: RoleProject): Promise<void> {
    const task = await this.task(project, { title: `For ${who.name}`, assigneeId: who.id });
    this.assigned.set(`${project.id} ${who.id}`, task.id);
    await this.statusChange(who, task.id, 'IN_PROGRESS', this.owner, true);
  }

  /**
   * The last task `notified` assigned them in the project moves to `status` (as `actor`, not the
   * org OWNER who reported it): they are told, or not — which is known once the reporter was told.
   */
  async toldOfStatus(who: Person, project: RoleProject, status: string, actor: Person, told: boolean) {
    const taskId = this.assigned.get(`${project.id} ${who.id}`);
    assert.ok(taskId, `a task of ${who.name} in ${project.key}`);
    await this.statusChange(who, taskId, status, actor, told);
  }

  private async statusChange(who: Person, taskId: string, status: string, actor: Person, told: boolean) {
    const moved = await this.api.patch(`/tasks/${taskId}`, { status }, actor.token);
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    const heard = async (whom: Person) => {
      const res = await this.api.get<Page<{ type: string; title: string; subject: { id: string } }>>(
        '/notifications?limit=100',
        whom.token,
      );
      return res.body.items.some(
        (n) =>
          n.type === 'task.statusChanged' && n.subject.id === taskId && n.title.endsWith(` to ${status}`),
      );
    };
    const what = `notify task.statusChanged to ${status}: ${who.name} should ${told ? '' : 'not '}be told`;
    if (told) return settle(what, async () => (await heard(who)) || 'not told');
    assert.notEqual(actor.id, this.owner.id, 'the reporter, told of the same event, is the witness');
    await settle(
      `${what} (the reporter first)`,
      async () => (await heard(this.owner)) || 'reporter not told',
    );
    assert.equal(await heard(who), false, what);
  }
}
