import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '@trellis/shared/testing';
import { apiClient, assertProblem, type ApiClient } from './support/client.ts';
import { mailsTo } from './support/maildev.ts';
import { join, person, type Person } from './support/people.ts';
import { Socket } from './support/socket.ts';
import { startSuite, type Suite } from './support/suite.ts';

interface Task {
  id: string;
  key: string;
  title: string;
}
interface Notification {
  id: string;
  type: string;
  subject: { kind: string; id: string };
  actorId: string | null;
}
interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
interface Channel {
  id: string;
  scope: string;
  scopeId: string;
  name: string;
}

/**
 * Issue 6's acceptance through the gateway only: real WebSocket clients on `/ws`, HTTP for the
 * writes, MailDev for the mails, and notify killed and restarted mid-stream.
 */
describe('collaboration and real time through the gateway', () => {
  let suite: Suite;
  let api: ApiClient;
  let alice: Person, bob: Person, carol: Person, dave: Person;
  let orgId: string;
  let projectId: string;
  let task: Task;
  const sockets: Socket[] = [];

  const open = async (who: Person, path = '/ws') => {
    const socket = await Socket.open(suite.gatewayUrl, who.token, path);
    sockets.push(socket);
    return socket;
  };
  const createTask = async (body: Record<string, unknown>) => {
    const res = await api.post<Task>(`/projects/${projectId}/tasks`, body, alice.token);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body;
  };
  const notifications = async (who: Person) => {
    const res = await api.get<Page<Notification>>('/notifications?limit=100', who.token);
    assert.equal(res.status, 200);
    return res.body.items;
  };

  before(async () => {
    suite = await startSuite();
    api = apiClient(suite.gatewayUrl);
    [alice, bob, carol, dave] = (await Promise.all(
      ['Alice Author', 'Bob Builder', 'Carol Quiet', 'Dave Default'].map((n) => person(api, n)),
    )) as [Person, Person, Person, Person];
    const org = await api.post<{ id: string }>(
      '/orgs',
      { name: `Live ${randomUUID().slice(0, 6)}` },
      alice.token,
    );
    assert.equal(org.status, 201);
    orgId = org.body.id;
    for (const who of [bob, carol, dave]) await join(api, orgId, alice, who, 'MEMBER');
    const project = await api.post<{ id: string }>(
      '/projects',
      { orgId, name: 'Live', key: 'LIVE' },
      alice.token,
    );
    assert.equal(project.status, 201);
    projectId = project.body.id;
    for (const who of [bob, carol, dave]) {
      const added = await api.post(
        `/projects/${projectId}/members`,
        { userId: who.id, role: 'CONTRIBUTOR' },
        alice.token,
      );
      assert.equal(added.status, 201, JSON.stringify(added.body));
    }
    task = await createTask({ title: 'Wire the hub', assigneeId: bob.id });
  });

  after(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await suite?.close();
  });

  test('a socket needs a valid token: refused with 401 before the upgrade', async () => {
    await assert.rejects(Socket.open(suite.gatewayUrl, 'not-a-token'), /401/);
    const socket = await open(bob);
    assert.deepEqual(socket.messages[0], { type: 'welcome', userId: bob.id });
  });

  test('logging out closes the sockets opened with that access token: close code 4002', async () => {
    const who = await person(api, 'Leaving');
    const session = await api.post<{ accessToken: string; refreshToken: string }>('/auth/login', {
      email: who.email,
      password: 'correct horse battery',
    });
    assert.equal(session.status, 200);
    const socket = await open({ ...who, token: session.body.accessToken });
    const other = await open(who); // the registration's token: still valid
    const logout = await api.post(
      '/auth/logout',
      { refreshToken: session.body.refreshToken },
      session.body.accessToken,
    );
    assert.equal(logout.status, 204);
    await waitFor(() => socket.closed, { what: 'the logged-out socket to close' });
    assert.equal(socket.closeCode, 4002, 'closed by notify, not cut by the gateway');
    assert.equal(other.closed, false);
  });

  test('A updates a task → B gets task.updated with the changes; A comments mentioning B → comment.created and a notification, none for A', async () => {
    const a = await open(alice);
    const b = await open(bob);
    assert.equal((await b.subscribe(`project:${projectId}`)).type, 'subscribed');
    assert.equal((await b.subscribe(`task:${task.id}`)).type, 'subscribed');

    const patched = await api.patch(`/tasks/${task.id}`, { title: 'Wire the hub, for real' }, alice.token);
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const updated = await b.next(
      (m) => m.channel === `project:${projectId}` && m.event?.type === 'task.updated',
      'task.updated on the project channel',
    );
    assert.deepEqual(updated.event?.data.changes.title, {
      from: 'Wire the hub',
      to: 'Wire the hub, for real',
    });
    assert.equal(updated.event?.actorId, alice.id);

    const comment = await api.post<{ id: string; mentions: string[] }>(
      '/comments',
      { taskId: task.id, body: `Ready for review, <@${bob.id}>?` },
      alice.token,
    );
    assert.equal(comment.status, 201, JSON.stringify(comment.body));
    assert.deepEqual(comment.body.mentions, [bob.id]);
    const onTask = await b.next(
      (m) => m.channel === `task:${task.id}` && m.event?.type === 'comment.created',
      'comment.created on the task channel',
    );
    assert.equal(onTask.event?.data.commentId, comment.body.id);
    const pushed = await b.next(
      (m) =>
        m.channel === `user:${bob.id}` &&
        m.event?.type === 'notification.created' &&
        m.event.data.type === 'mention',
      'the mention notification on the inbox channel',
    );
    assert.equal(pushed.event?.data.subject.id, comment.body.id);
    const listed = (await notifications(bob)).find(
      (n) => n.type === 'mention' && n.subject.id === comment.body.id,
    );
    assert.ok(listed, 'GET /notifications lists the mention');
    assert.equal(listed.actorId, alice.id);
    assert.equal((await notifications(alice)).length, 0, 'the actor is never notified');
    assert.equal(a.events(`user:${alice.id}`).length, 0);
  });

  test('B reconnects with since → exactly the 20 missed events in order, then live ones', async () => {
    const b1 = await open(bob);
    const channel = `project:${projectId}`;
    const subscribed = await b1.subscribe(channel);
    const last = subscribed.seq ?? 0;
    await b1.close();

    for (let i = 1; i <= 20; i += 1) {
      const res = await api.patch(`/tasks/${task.id}`, { description: `revision ${i}` }, alice.token);
      assert.equal(res.status, 200);
    }
    // Give the hub the time to sequence them all (the last one is what B will see last).
    const b2 = await open(bob);
    const answer = await b2.subscribe(channel, last);
    assert.equal(answer.type, 'subscribed');
    await b2.next(
      (m) => m.channel === channel && m.event?.data.changes?.description?.to === 'revision 20',
      'the 20th change',
    );
    const replayed = b2.events(channel);
    assert.equal(replayed.length, 20, 'exactly the missed events');
    assert.deepEqual(
      replayed.map((m) => m.seq),
      Array.from({ length: 20 }, (_, i) => last + i + 1),
      'in order, no gaps, no duplicates',
    );
    assert.deepEqual(
      replayed.map((m) => m.event?.data.changes?.description?.to),
      Array.from({ length: 20 }, (_, i) => `revision ${i + 1}`),
    );

    await api.patch(`/tasks/${task.id}`, { priority: 'HIGH' }, alice.token);
    const live = await b2.next(
      (m) => m.channel === channel && m.event?.data.changes?.priority !== undefined,
      'a live event',
    );
    assert.equal(live.seq, last + 21);
  });

  test('chat messages arrive in real time and in the history pages; announcements show read receipts', async () => {
    const channels = await waitFor(
      async () => {
        const res = await api.get<Channel[] | { items: Channel[] }>(`/channels?orgId=${orgId}`, bob.token);
        const list = Array.isArray(res.body) ? res.body : res.body.items;
        return list?.some((c) => c.scope === 'project') ? list : undefined;
      },
      { what: 'the org and project channels' },
    );
    const general: Channel | undefined = channels.find((c) => c.scope === 'org');
    assert.ok(general, 'the org channel');
    const b = await open(bob);
    assert.equal((await b.subscribe(`chat:${general.id}`)).type, 'subscribed');
    for (let i = 1; i <= 3; i += 1) {
      const sent: { status: number; body: unknown } = await api.post(
        `/channels/${general.id}/messages`,
        { body: `hello ${i}` },
        alice.token,
      );
      assert.equal(sent.status, 201, JSON.stringify(sent.body));
    }
    await b.next(
      (m) => m.channel === `chat:${general.id}` && m.event?.data.body === 'hello 3',
      'the third message',
    );
    assert.deepEqual(
      b.events(`chat:${general.id}`).map((m) => m.event?.data.body),
      ['hello 1', 'hello 2', 'hello 3'],
    );
    const first = await api.get<Page<{ body: string }>>(
      `/channels/${general.id}/messages?limit=2`,
      bob.token,
    );
    assert.deepEqual(
      first.body.items.map((m) => m.body),
      ['hello 3', 'hello 2'],
    );
    const second = await api.get<Page<{ body: string }>>(
      `/channels/${general.id}/messages?limit=2&cursor=${encodeURIComponent(first.body.nextCursor ?? '')}`,
      bob.token,
    );
    assert.deepEqual(
      second.body.items.map((m) => m.body),
      ['hello 1'],
    );

    const posted = await api.post<{ id: string }>(
      '/announcements',
      { orgId, title: 'Launch', body: 'Monday', pinned: true },
      alice.token,
    );
    assert.equal(posted.status, 201, JSON.stringify(posted.body));
    assert.equal((await api.post(`/announcements/${posted.body.id}/read`, undefined, bob.token)).status, 200);
    assert.equal((await api.post(`/announcements/${posted.body.id}/read`, undefined, bob.token)).status, 200);
    const reads = await api.get<{
      readCount: number;
      memberCount: number;
      readers: Array<{ userId: string }>;
    }>(`/announcements/${posted.body.id}/reads`, alice.token);
    assert.equal(reads.status, 200);
    assert.equal(reads.body.readCount, 1);
    assert.equal(reads.body.memberCount, 4);
    assert.deepEqual(
      reads.body.readers.map((r) => r.userId),
      [bob.id],
    );
    assertProblem(await api.get(`/announcements/${posted.body.id}/reads`, bob.token), 403, 'POLICY_DENIED');
    await waitFor(
      async () =>
        (await notifications(carol)).some(
          (n) => n.type === 'announcement.posted' && n.subject.id === posted.body.id,
        ),
      { what: 'the announcement notification' },
    );
  });

  test('an assignment and an invitation are mailed only when the preference allows it', async () => {
    const off = await api.call('PUT', '/notifications/preferences', {
      body: { email: { 'task.assigned': false, 'invitation.received': false } },
      token: carol.token,
    });
    assert.equal(off.status, 200, JSON.stringify(off.body));
    const forCarol = await createTask({ title: 'Quiet work', assigneeId: carol.id });
    const forDave = await createTask({ title: 'Loud work', assigneeId: dave.id });
    await waitFor(async () => (await mailsTo(dave.email)).some((m) => m.subject.includes(forDave.key)), {
      what: 'the assignment mail to Dave',
    });
    await waitFor(
      async () =>
        (await notifications(carol)).some((n) => n.type === 'task.assigned' && n.subject.id === forCarol.id),
      { what: 'Carol’s in-app assignment' },
    );
    assert.equal((await mailsTo(carol.email)).filter((m) => m.subject.includes(forCarol.key)).length, 0);

    // Invitations: Carol (mail off) gets none; Dave (default) gets the invitation mail.
    const other = await api.post<{ id: string }>(
      '/orgs',
      { name: `Other ${randomUUID().slice(0, 6)}` },
      alice.token,
    );
    const invitedMails = async (who: Person) =>
      (await mailsTo(who.email)).filter((m) => /token=/.test(m.text)).length;
    const carolBefore = await invitedMails(carol);
    const daveBefore = await invitedMails(dave);
    for (const who of [carol, dave])
      assert.equal(
        (
          await api.post(
            `/orgs/${other.body.id}/invitations`,
            { email: who.email, role: 'MEMBER' },
            alice.token,
          )
        ).status,
        201,
      );
    await waitFor(async () => (await invitedMails(dave)) === daveBefore + 1, {
      what: 'Dave’s invitation mail',
    });
    await waitFor(async () => (await notifications(carol)).some((n) => n.type === 'invitation.received'), {
      what: 'Carol’s in-app invitation',
    });
    assert.equal(await invitedMails(carol), carolBefore);
  });

  test('notify killed while A makes changes → after the restart every notification arrives exactly once', async () => {
    await suite.kill('notify');
    const tasks: Task[] = [];
    for (let i = 1; i <= 8; i += 1)
      tasks.push(await createTask({ title: `While notify is down ${i}`, assigneeId: bob.id }));
    await suite.start('notify');
    const ids = new Set(tasks.map((t) => t.id));
    const assigned = await waitFor(
      async () => {
        const found = (await notifications(bob)).filter(
          (n) => n.type === 'task.assigned' && ids.has(n.subject.id),
        );
        return found.length >= tasks.length ? found : undefined;
      },
      // A killed consumer holds its partitions until Kafka's session timeout (10 s) expires.
      { what: 'the eight assignment notifications', timeoutMs: 45_000 },
    );
    assert.equal(assigned.length, 8);
    assert.equal(new Set(assigned.map((n) => n.subject.id)).size, 8, 'one per task, no duplicates');
  });

  test('B removed from the org → the subscription ends with ACCESS_REVOKED and comments and channels answer 404', async () => {
    const b = await open(bob);
    assert.equal((await b.subscribe(`project:${projectId}`)).type, 'subscribed');
    const channels = await api.get<Channel[] | { items: Channel[] }>(`/channels?orgId=${orgId}`, bob.token);
    const list = Array.isArray(channels.body) ? channels.body : channels.body.items;
    const projectChannel = list.find((c) => c.scope === 'project');
    assert.ok(projectChannel);

    const removed = await api.delete(`/orgs/${orgId}/members/${bob.id}`, alice.token);
    assert.equal(removed.status, 204, JSON.stringify(removed.body));
    const ended = await b.next(
      (m) => m.type === 'unsubscribed' && m.channel === `project:${projectId}`,
      'ACCESS_REVOKED',
    );
    assert.equal(ended.reason, 'ACCESS_REVOKED');
    // collab and notify project the removal each from its own consumer (both gather up to 100 ms of
    // events per fetch), so collab may learn of it a moment after notify's hub did.
    await waitFor(async () => (await api.get(`/comments?taskId=${task.id}`, bob.token)).status === 404, {
      what: "collab's projection of the removal",
      timeoutMs: 5_000,
    });
    assertProblem(await api.get(`/comments?taskId=${task.id}`, bob.token), 404, 'NOT_FOUND');
    assertProblem(await api.get(`/channels/${projectChannel.id}/messages`, bob.token), 404, 'NOT_FOUND');
    const again = await b.subscribe(`project:${projectId}`);
    assert.equal(again.type, 'error');
    assert.equal(again.code, 'NOT_FOUND');
  });
});
