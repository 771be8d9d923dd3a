import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { collabEvents, governanceEvents, identityEvents, workEvents } from '@trellis/shared';
import { assertProblem, mailsTo, taskEventData, waitFor } from '@trellis/shared/testing';
import { notifyModels } from '../src/notifications/notification.model.ts';
import { api, seedProject, startNotify, testUser, type Notify, type TestUser } from './helpers.ts';

interface Item {
  id: string;
  type: string;
  orgId: string | null;
  title: string;
  subject: { kind: string; id: string };
  actorId: string | null;
  read: boolean;
}

let notify: Notify;
let owner: TestUser;
let member: TestUser;
let reporter: TestUser;
let outsider: TestUser;
const orgId = randomUUID();
const projectId = randomUUID();

async function inbox(user: TestUser, query = ''): Promise<{ items: Item[]; nextCursor: string | null }> {
  const res = await api(notify).get(`/api/v1/notifications${query}`).set(user.auth);
  assert.equal(res.status, 200);
  return res.body;
}

/** Waits until the user's inbox holds a notification about this event's subject of this type. */
function waitForNotification(user: TestUser, type: string, subjectId: string): Promise<Item> {
  return waitFor(
    async () => (await inbox(user)).items.find((n) => n.type === type && n.subject.id === subjectId),
    { what: `${type} for ${subjectId}` },
  );
}

let taskNumber = 0;
function taskData(over: Partial<{ taskId: string; assigneeId: string | null; reporterId: string }> = {}) {
  taskNumber += 1;
  const base = {
    orgId,
    projectId,
    key: `CORE-${taskNumber}`,
    number: taskNumber,
    title: `Task ${taskNumber}`,
  };
  return { ...taskEventData({ ...base, reporterId: owner.id }), ...over };
}

before(async () => {
  notify = await startNotify();
  [owner, member, reporter, outsider] = [
    testUser(notify),
    testUser(notify),
    testUser(notify),
    testUser(notify),
  ];
  const names = new Map([
    [owner, 'Olga Owner'],
    [member, 'Max Member'],
    [reporter, 'Rita Reporter'],
    [outsider, 'Otto Outsider'],
  ]);
  for (const [user, name] of names)
    await notify.publish(identityEvents.userRegistered, 'identity', {
      subjectId: user.id,
      data: { userId: user.id, email: user.email, name },
    });
  await notify.publish(governanceEvents.orgCreated, 'governance', {
    subjectId: orgId,
    orgId,
    actorId: owner.id,
    data: { orgId, name: 'Acme', slug: 'acme', ownerId: owner.id },
  });
  for (const [user, role] of [
    [owner, 'OWNER'],
    [member, 'MEMBER'],
    [reporter, 'MEMBER'],
  ] as const)
    await notify.publish(governanceEvents.memberAdded, 'governance', {
      subjectId: orgId,
      orgId,
      data: { orgId, userId: user.id, role },
    });
  await seedProject(notify, { projectId: projectId, orgId, ownerId: owner.id, name: 'Core', key: 'CORE' });
  // The projection is current once the last of these is visible to a decision.
  await waitFor(() => notify.services.projection.reader.project(projectId, reporter.id), {
    what: 'the projection',
  });
});

after(() => notify.close());

describe('notifications from events', () => {
  test('an assignment notifies the assignee once (even when the event is redelivered), never the actor', async () => {
    const task = taskData({ assigneeId: member.id });
    const event = await notify.publish(workEvents.taskCreated, 'work', {
      subjectId: task.taskId,
      orgId,
      actorId: owner.id,
      data: task,
    });
    const n = await waitForNotification(member, 'task.assigned', task.taskId);
    assert.equal(n.actorId, owner.id);
    assert.equal(n.orgId, orgId);
    assert.equal(n.read, false);
    assert.match(n.title, /Olga Owner assigned you CORE-\d+/);

    // Redelivery of the very same event changes nothing.
    await notify.harness.runtime.bus.publish([{ topic: 'work.task', event }]);
    const marker = taskData({ assigneeId: member.id });
    await notify.publish(workEvents.taskCreated, 'work', { orgId, actorId: owner.id, data: marker });
    await waitForNotification(member, 'task.assigned', marker.taskId);
    const forTask = (await inbox(member)).items.filter((i) => i.subject.id === task.taskId);
    assert.equal(forTask.length, 1);
    assert.equal((await inbox(owner)).items.filter((i) => i.subject.id === task.taskId).length, 0);

    // The same notification reached the assignee's real-time inbox channel, with a seq.
    const history = notify.harness.runtime.connection.collection('realtime_history');
    const onChannel = await history.countDocuments({ channel: `user:${member.id}`, eventId: n.id });
    assert.equal(onChannel, 1);
  });

  test('someone who could not see the project is notified as soon as they can (no answer but yes is kept)', async () => {
    const late = testUser(notify);
    await notify.publish(identityEvents.userRegistered, 'identity', {
      subjectId: late.id,
      data: { userId: late.id, email: late.email, name: 'Lena Late' },
    });
    /** The owner creates a task assigned to `assigneeId`. */
    const assign = async (assigneeId: string) => {
      const task = taskData({ assigneeId });
      await notify.publish(workEvents.taskCreated, 'work', {
        subjectId: task.taskId,
        orgId,
        actorId: owner.id,
        data: task,
      });
      return task;
    };
    // Not in the org yet: this assignment notifies nobody (its event is handled before the marker's).
    const early = await assign(late.id);
    const marker = await assign(member.id);
    await waitForNotification(member, 'task.assigned', marker.taskId);

    // Joined a moment later: the next assignment reaches them at once, not after a remembered "no".
    await notify.publish(governanceEvents.memberAdded, 'governance', {
      subjectId: orgId,
      orgId,
      data: { orgId, userId: late.id, role: 'MEMBER' },
    });
    await waitFor(() => notify.services.projection.reader.project(projectId, late.id), {
      what: 'the membership projected',
    });
    const next = await assign(late.id);
    await waitForNotification(late, 'task.assigned', next.taskId);
    assert.equal((await inbox(late)).items.filter((i) => i.subject.id === early.taskId).length, 0);
  });

  test('a status change notifies reporter and assignee, not the actor who changed it', async () => {
    const task = taskData({ assigneeId: member.id, reporterId: reporter.id });
    await notify.publish(workEvents.taskUpdated, 'work', {
      orgId,
      actorId: member.id,
      data: { ...task, status: 'IN_PROGRESS', changes: { status: { from: 'TODO', to: 'IN_PROGRESS' } } },
    });
    const n = await waitForNotification(reporter, 'task.statusChanged', task.taskId);
    assert.match(n.title, /Max Member moved CORE-\d+ to IN_PROGRESS/);
    assert.equal((await inbox(member)).items.filter((i) => i.subject.id === task.taskId).length, 0);
  });

  test('a comment notifies the task people, a mention the mentioned user (once), never the author', async () => {
    const task = taskData({ assigneeId: member.id, reporterId: reporter.id });
    await notify.publish(workEvents.taskCreated, 'work', { orgId, actorId: reporter.id, data: task });
    const commentId = randomUUID();
    await notify.publish(collabEvents.commentCreated, 'collab', {
      orgId,
      actorId: owner.id,
      data: {
        commentId,
        orgId,
        projectId,
        taskId: task.taskId,
        authorId: owner.id,
        body: `Please look <@${reporter.id}>`,
        mentions: [reporter.id],
      },
    });
    const mention = await waitForNotification(reporter, 'mention', commentId);
    assert.match(mention.title, /Olga Owner mentioned you on CORE-\d+/);
    await waitForNotification(member, 'comment.created', commentId);
    const reporterAll = (await inbox(reporter)).items.filter((i) => i.subject.id === commentId);
    assert.deepEqual(
      reporterAll.map((i) => i.type),
      ['mention'],
    );
    assert.equal((await inbox(owner)).items.filter((i) => i.subject.id === commentId).length, 0);

    // The owner commented, so the next comment (by the member) notifies the owner too.
    const second = randomUUID();
    await notify.publish(collabEvents.commentCreated, 'collab', {
      orgId,
      actorId: member.id,
      data: {
        commentId: second,
        orgId,
        projectId,
        taskId: task.taskId,
        authorId: member.id,
        body: 'Done',
        mentions: [],
      },
    });
    await waitForNotification(owner, 'comment.created', second);
    await waitForNotification(reporter, 'comment.created', second);
  });

  test('approval requests go to everyone who may decide; the decision to the requester', async () => {
    const approvalId = randomUUID();
    const data = { approvalId, orgId, kind: 'team.create' as const, requestedBy: member.id, payload: {} };
    await notify.publish(governanceEvents.approvalRequested, 'governance', {
      orgId,
      actorId: member.id,
      data,
    });
    await waitForNotification(owner, 'approval.requested', approvalId);
    await notify.publish(governanceEvents.approvalDecided, 'governance', {
      orgId,
      actorId: owner.id,
      data: { ...data, decision: 'APPROVED', decidedBy: owner.id, reason: null },
    });
    const decided = await waitForNotification(member, 'approval.decided', approvalId);
    assert.match(decided.title, /approved/);
    // A MEMBER may not decide (approval.decide defaults to ADMIN).
    assert.equal((await inbox(reporter)).items.filter((i) => i.subject.id === approvalId).length, 0);
  });

  test('announcements reach every org member but the author; strangers get nothing', async () => {
    const announcementId = randomUUID();
    await notify.publish(collabEvents.announcementPosted, 'collab', {
      orgId,
      actorId: owner.id,
      data: { announcementId, orgId, authorId: owner.id, title: 'Offsite', body: 'Friday', pinned: true },
    });
    await waitForNotification(member, 'announcement.posted', announcementId);
    await waitForNotification(reporter, 'announcement.posted', announcementId);
    assert.equal((await inbox(owner)).items.filter((i) => i.subject.id === announcementId).length, 0);
    assert.equal((await inbox(outsider)).items.length, 0);
  });
});

describe('preferences and e-mail', () => {
  test('an assignment is mailed by default and not once the user switches that e-mail off', async () => {
    const user = testUser(notify);
    await notify.publish(identityEvents.userRegistered, 'identity', {
      data: { userId: user.id, email: user.email, name: 'Mia Mail' },
    });
    await notify.publish(governanceEvents.memberAdded, 'governance', {
      orgId,
      data: { orgId, userId: user.id, role: 'MEMBER' },
    });
    await waitFor(() => notify.services.projection.reader.user(user.id), { what: 'the user' });

    const first = taskData({ assigneeId: user.id });
    await notify.publish(workEvents.taskCreated, 'work', { orgId, actorId: owner.id, data: first });
    const mails = await waitFor(async () => {
      const found = await mailsTo(user.email);
      return found.length > 0 ? found : undefined;
    });
    assert.match(mails[0]!.subject, /Olga Owner assigned you CORE-\d+/);

    const put = await api(notify)
      .put('/api/v1/notifications/preferences')
      .set(user.auth)
      .send({ email: { 'task.assigned': false } });
    assert.equal(put.status, 200);
    assert.equal(put.body.email['task.assigned'], false);
    assert.equal(put.body.inApp['task.assigned'], true);
    assert.equal(put.body.email.mention, true);

    const second = taskData({ assigneeId: user.id });
    await notify.publish(workEvents.taskCreated, 'work', { orgId, actorId: owner.id, data: second });
    await waitForNotification(user, 'task.assigned', second.taskId);
    assert.equal((await mailsTo(user.email)).length, 1, 'no second mail');

    const off = await api(notify)
      .put('/api/v1/notifications/preferences')
      .set(user.auth)
      .send({ inApp: { 'task.assigned': false } });
    assert.equal(off.body.inApp['task.assigned'], false);
    const third = taskData({ assigneeId: user.id });
    await notify.publish(workEvents.taskCreated, 'work', { orgId, actorId: owner.id, data: third });
    const marker = randomUUID();
    await notify.publish(collabEvents.announcementPosted, 'collab', {
      orgId,
      actorId: owner.id,
      data: { announcementId: marker, orgId, authorId: owner.id, title: 'Marker', body: '', pinned: false },
    });
    await waitForNotification(user, 'announcement.posted', marker);
    assert.equal((await inbox(user)).items.filter((i) => i.subject.id === third.taskId).length, 0);
  });

  test('an invitation mail respects the invitee’s preference; an unknown address always gets it', async () => {
    const user = testUser(notify);
    await notify.publish(identityEvents.userRegistered, 'identity', {
      data: { userId: user.id, email: user.email, name: 'Ivy Invitee' },
    });
    await waitFor(() => notify.services.projection.reader.user(user.id), { what: 'the user' });
    await api(notify)
      .put('/api/v1/notifications/preferences')
      .set(user.auth)
      .send({ email: { 'invitation.received': false } })
      .expect(200);
    const stranger = `s-${randomUUID().slice(0, 8)}@example.test`;
    for (const to of [user.email, stranger])
      await notify.publish(governanceEvents.invitationMailRequested, 'governance', {
        data: {
          invitationId: randomUUID(),
          to,
          token: 'x'.repeat(32),
          orgName: 'Acme',
          inviterName: 'Olga Owner',
          role: 'MEMBER',
          expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
        },
      });
    await waitFor(async () => (await mailsTo(stranger)).length > 0, { what: 'the stranger’s mail' });
    assert.equal((await mailsTo(user.email)).length, 0);
  });

  test('preferences reject unknown types and non-booleans with field errors', async () => {
    const res = await api(notify)
      .put('/api/v1/notifications/preferences')
      .set(member.auth)
      .send({ email: { 'task.exploded': true, mention: 'yes' } });
    assertProblem(res, 400, 'VALIDATION_FAILED');
    const paths = (res.body.errors as Array<{ path: string }>).map((e) => e.path);
    assert.ok(paths.some((p) => p.includes('mention')));
  });
});

describe('commenters of a task', () => {
  test('kept in one document per task; the earlier one-per-commenter shape is moved over once', async () => {
    const connection = notify.harness.runtime.connection;
    const taskId = randomUUID();
    const [ann, bob] = [randomUUID(), randomUUID()];
    await connection
      .collection<{ _id: string; taskId: string; userId: string }>('task_commenters')
      .insertMany([
        { _id: `${taskId}:${ann}`, taskId, userId: ann },
        { _id: `${taskId}:${bob}`, taskId, userId: bob },
      ]);
    const models = await notifyModels(connection);
    assert.deepEqual(
      (await models.TaskCommenters.findById(taskId).lean())?.userIds.sort(),
      [ann, bob].sort(),
    );
    const left = await connection.db!.listCollections({ name: 'task_commenters' }).toArray();
    assert.deepEqual(left, [], 'the earlier collection is dropped');
    // Moving again (another replica starting) changes nothing.
    await notifyModels(connection);
    assert.equal((await models.TaskCommenters.findById(taskId).lean())?.userIds.length, 2);
  });
});

describe('the inbox', () => {
  test('unread filter, count, read, read-all and pages; someone else’s notification is 404', async () => {
    const user = testUser(notify);
    await notify.publish(governanceEvents.memberAdded, 'governance', {
      orgId,
      data: { orgId, userId: user.id, role: 'MEMBER' },
    });
    await waitFor(() => notify.services.projection.reader.org(orgId, user.id), { what: 'membership' });
    const ids: string[] = [];
    // One subject, so they are handled in the order published (the inbox's order is the order its
    // live feed gave them: events of unrelated subjects in one instant may be handled either way).
    const subjectId = randomUUID();
    for (let i = 0; i < 5; i += 1) {
      const announcementId = randomUUID();
      ids.push(announcementId);
      await notify.publish(collabEvents.announcementPosted, 'collab', {
        orgId,
        subjectId,
        actorId: owner.id,
        data: { announcementId, orgId, authorId: owner.id, title: `News ${i}`, body: '', pinned: false },
      });
    }
    await waitFor(async () => (await inbox(user)).items.length === 5, { what: 'five notifications' });

    const count = await api(notify).get('/api/v1/notifications/unread-count').set(user.auth);
    assert.deepEqual(count.body, { count: 5 });

    const first = await inbox(user, '?limit=2');
    assert.equal(first.items.length, 2);
    assert.ok(first.nextCursor);
    const rest: Item[] = [];
    let cursor: string | null = first.nextCursor;
    while (cursor) {
      const page = await inbox(user, `?limit=2&cursor=${encodeURIComponent(cursor)}`);
      rest.push(...page.items);
      cursor = page.nextCursor;
    }
    const all = [...first.items, ...rest];
    assert.equal(new Set(all.map((n) => n.id)).size, 5);
    assert.deepEqual(
      all.map((n) => n.subject.id),
      [...ids].reverse(),
      'newest first',
    );

    const target = all[0]!;
    const read = await api(notify).post(`/api/v1/notifications/${target.id}/read`).set(user.auth);
    assert.equal(read.status, 200);
    assert.equal(read.body.read, true);
    assert.equal((await inbox(user, '?unread=true')).items.length, 4);
    assertProblem(
      await api(notify).post(`/api/v1/notifications/${target.id}/read`).set(member.auth),
      404,
      'NOT_FOUND',
    );
    assertProblem(
      await api(notify).post('/api/v1/notifications/not-an-id/read').set(user.auth),
      400,
      'VALIDATION_FAILED',
    );

    const all2 = await api(notify).post('/api/v1/notifications/read-all').set(user.auth).send({ orgId });
    assert.deepEqual(all2.body, { updated: 4 });
    const after2 = await api(notify).get('/api/v1/notifications/unread-count').set(user.auth);
    assert.deepEqual(after2.body, { count: 0 });

    assertProblem(await api(notify).get('/api/v1/notifications'), 401, 'UNAUTHENTICATED');
    assertProblem(
      await api(notify).get('/api/v1/notifications?limit=500').set(user.auth),
      400,
      'VALIDATION_FAILED',
    );
  });

  test('a member removed from the org is told so; a member who leaves is not', async () => {
    const user = testUser(notify);
    await notify.publish(governanceEvents.memberRemoved, 'governance', {
      orgId,
      actorId: owner.id,
      data: { orgId, userId: user.id, reason: 'removed' },
    });
    await waitForNotification(user, 'member.removed', orgId);
    const leaver = testUser(notify);
    await notify.publish(governanceEvents.memberRemoved, 'governance', {
      orgId,
      actorId: leaver.id,
      data: { orgId, userId: leaver.id, reason: 'left' },
    });
    await notify.publish(governanceEvents.memberRoleChanged, 'governance', {
      orgId,
      actorId: owner.id,
      data: { orgId, userId: leaver.id, from: 'MEMBER', to: 'ADMIN' },
    });
    await waitForNotification(leaver, 'member.roleChanged', orgId);
    assert.deepEqual(
      (await inbox(leaver)).items.map((i) => i.type),
      ['member.roleChanged'],
    );
  });

  test('a team or project role change is a role change too, told to the member, never the actor', async () => {
    const teamId = randomUUID();
    await notify.publish(governanceEvents.teamMemberRoleChanged, 'governance', {
      orgId,
      actorId: owner.id,
      data: { orgId, teamId, userId: member.id, from: 'MEMBER', to: 'LEAD' },
    });
    const team = await waitForNotification(member, 'member.roleChanged', teamId);
    assert.deepEqual(team.subject, { kind: 'team', id: teamId });
    assert.match(team.title, /team role changed to LEAD/);
    await notify.publish(workEvents.projectMemberRoleChanged, 'work', {
      orgId,
      actorId: owner.id,
      data: { projectId, orgId, userId: member.id, from: 'CONTRIBUTOR', to: 'MANAGER' },
    });
    const project = await waitForNotification(member, 'member.roleChanged', projectId);
    assert.match(project.title, /project role changed to MANAGER/);
    // Changing one's own role (an owner handing over, say) notifies nobody. Same key, same
    // partition: once the reporter's (published after) is in, the owner's has been handled.
    for (const [userId, from, to] of [
      [owner.id, 'OWNER', 'MANAGER'],
      [reporter.id, 'CONTRIBUTOR', 'OWNER'],
    ] as const)
      await notify.publish(workEvents.projectMemberRoleChanged, 'work', {
        subjectId: projectId,
        orgId,
        actorId: owner.id,
        data: { projectId, orgId, userId, from, to },
      });
    await waitForNotification(reporter, 'member.roleChanged', projectId);
    assert.ok(!(await inbox(owner)).items.some((i) => i.type === 'member.roleChanged'));
  });
});
