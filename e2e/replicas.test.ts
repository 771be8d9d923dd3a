import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '@trellis/shared/testing';
import { apiClient, assertProblem, type ApiClient } from './support/client.ts';
import { join, newOrg, person, type Person } from './support/people.ts';
import { Socket, type ServerMessage } from './support/socket.ts';
import { startSuite, type Suite } from './support/suite.ts';

/**
 * Issue 23's journey at two replicas of every service, gateway included (architecture.md §7): the
 * invitation, approval, notification and real-time flows, with WebSocket clients held on different
 * notify replicas, and a logout that every replica of every service honours.
 */
describe('every service at 2 replicas', () => {
  let suite: Suite;
  let api: ApiClient;
  let alice: Person, bob: Person, carol: Person, dave: Person;
  let orgId: string;
  let projectId: string;
  const sockets: Socket[] = [];

  /** A socket held on one notify replica (not through the gateway, which picks one itself). */
  const openOn = async (replica: number, who: Person) => {
    const socket = await Socket.open(suite.replicaUrls.notify[replica] ?? '', who.token);
    sockets.push(socket);
    return socket;
  };
  const assignedTo = async (who: Person, count: number) => {
    const keys: string[] = [];
    for (let i = 0; i < count; i += 1) {
      const res = await api.post<{ key: string }>(
        `/projects/${projectId}/tasks`,
        { title: `Replicated ${i}`, assigneeId: who.id },
        alice.token,
      );
      assert.equal(res.status, 201, JSON.stringify(res.body));
      keys.push(res.body.key);
    }
    return keys;
  };
  const notifications = (socket: Socket, who: Person): ServerMessage[] =>
    socket.events(`user:${who.id}`).filter((m) => m.event?.type === 'notification.created');

  before(async () => {
    suite = await startSuite({ replicas: 2 });
    api = apiClient(suite.gatewayUrl);
    [alice, bob, carol, dave] = (await Promise.all(
      ['Alice Owner', 'Bob Assignee', 'Carol Admin', 'Dave Member'].map((n) => person(api, n)),
    )) as [Person, Person, Person, Person];
    orgId = await newOrg(api, alice, 'Twice');
    // Invitations: the mail goes out from one notify replica, the acceptance lands on any governance one.
    await join(api, orgId, alice, bob, 'MEMBER');
    await join(api, orgId, alice, carol, 'ADMIN');
    await join(api, orgId, alice, dave, 'MEMBER');
    const project = await api.post<{ id: string }>(
      '/projects',
      { orgId, name: 'Twice', key: 'TWO' },
      alice.token,
    );
    assert.equal(project.status, 201, JSON.stringify(project.body));
    projectId = project.body.id;
    const added = await api.post(
      `/projects/${projectId}/members`,
      { userId: bob.id, role: 'CONTRIBUTOR' },
      alice.token,
    );
    assert.equal(added.status, 201, JSON.stringify(added.body));
  });

  after(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await suite?.close();
  });

  test('two clients on different notify replicas get the same notifications with the same gap-free seqs', async () => {
    const [first, second] = [await openOn(0, bob), await openOn(1, bob)];
    for (const socket of [first, second])
      assert.equal((await socket.subscribe(`user:${bob.id}`)).type, 'subscribed');
    const keys = await assignedTo(bob, 8);
    for (const socket of [first, second])
      await waitFor(() => notifications(socket, bob).length >= keys.length, {
        what: 'eight notifications on each socket',
        timeoutMs: 30_000,
      });
    const seen = (socket: Socket) => notifications(socket, bob).map((m) => [m.seq, m.event?.id]);
    assert.deepEqual(seen(first), seen(second), 'the same events under the same seqs');
    const seqs = notifications(first, bob).map((m) => m.seq ?? NaN);
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => (seqs[0] ?? 0) + i),
      'consecutive',
    );
    const titles = notifications(first, bob).map((m) => String(m.event?.data.title));
    for (const key of keys)
      assert.equal(titles.filter((t) => t.endsWith(` ${key}`)).length, 1, `${key} exactly once`);
  });

  test('a client that left replica 1 resumes on replica 2 with exactly what it missed', async () => {
    const socket = await openOn(0, bob);
    assert.equal((await socket.subscribe(`user:${bob.id}`)).type, 'subscribed');
    await assignedTo(bob, 1);
    await waitFor(() => notifications(socket, bob).length >= 1, { what: 'a first notification' });
    const lastSeq = notifications(socket, bob).at(-1)?.seq ?? NaN;
    await socket.close();
    const missed = await assignedTo(bob, 4);
    const resumed = await openOn(1, bob);
    const answer = await resumed.subscribe(`user:${bob.id}`, lastSeq);
    assert.equal(answer.type, 'subscribed', JSON.stringify(answer));
    await waitFor(() => notifications(resumed, bob).length >= missed.length, {
      what: 'the missed notifications',
      timeoutMs: 30_000,
    });
    const replayed = notifications(resumed, bob);
    assert.deepEqual(
      replayed.map((m) => m.seq),
      missed.map((_, i) => lastSeq + 1 + i),
      'from the next seq on, no gap, nothing twice',
    );
    assert.equal(resumed.messages.filter((m) => m.type === 'reset').length, 0, 'no reset');
  });

  test('the inbox holds each assignment once, whichever replicas handled them', async () => {
    const inbox = await waitFor(
      async () => {
        const res = await api.get<{ items: Array<{ type: string }> }>('/notifications?limit=100', bob.token);
        const assigned = res.body.items.filter((n) => n.type === 'task.assigned');
        return assigned.length >= 13 ? assigned : undefined;
      },
      { what: '13 task.assigned notifications', timeoutMs: 30_000 },
    );
    assert.equal(inbox.length, 13);
  });

  test('approvals: a removal requested by one admin waits for another, then happens', async () => {
    const on = await api.patch(
      `/orgs/${orgId}/settings`,
      { requireApproval: { removals: true } },
      alice.token,
    );
    assert.equal(on.status, 200, JSON.stringify(on.body));
    const requested = await api.delete<{ approval: { id: string; state: string } }>(
      `/orgs/${orgId}/members/${dave.id}`,
      carol.token,
    );
    assert.equal(requested.status, 202, JSON.stringify(requested.body));
    assertProblem(
      await api.post(`/orgs/${orgId}/approvals/${requested.body.approval.id}/approve`, {}, carol.token),
      403,
      'FORBIDDEN',
    );
    const approved = await api.post(
      `/orgs/${orgId}/approvals/${requested.body.approval.id}/approve`,
      {},
      alice.token,
    );
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    await waitFor(async () => (await api.get(`/orgs/${orgId}`, dave.token)).status === 404, {
      what: 'dave to be out of the org',
    });
  });

  test('a logout is honoured by every replica of every service', async () => {
    const who = await person(api, 'Leaving Twice');
    const session = await api.post<{ accessToken: string; refreshToken: string }>('/auth/login', {
      email: who.email,
      password: 'correct horse battery',
    });
    assert.equal(session.status, 200);
    const token = session.body.accessToken;
    const paths = {
      gateway: '/api/v1/users/me',
      identity: '/api/v1/users/me',
      governance: '/api/v1/orgs',
      work: `/api/v1/projects/${projectId}`,
      collab: `/api/v1/channels?orgId=${orgId}`,
      notify: '/api/v1/notifications/unread-count',
    } as const;
    const statuses = async () =>
      Promise.all(
        (Object.entries(paths) as Array<[keyof typeof paths, string]>).flatMap(([name, path]) =>
          suite.replicaUrls[name].map(async (url) => {
            const res = await fetch(`${url}${path}`, { headers: { Authorization: `Bearer ${token}` } });
            await res.body?.cancel();
            return `${name}@${new URL(url).port} ${res.status}`;
          }),
        ),
      );
    assert.equal((await statuses()).filter((s) => s.endsWith(' 401')).length, 0, 'valid before');
    const logout = await api.post('/auth/logout', { refreshToken: session.body.refreshToken }, token);
    assert.equal(logout.status, 204);
    const answers = await waitFor(
      async () => {
        const all = await statuses();
        return all.every((s) => s.endsWith(' 401')) ? all : undefined;
      },
      { what: 'every replica to refuse the revoked token', timeoutMs: 15_000 },
    );
    assert.equal(answers.length, 12);
  });
});
