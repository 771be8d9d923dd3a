import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Connection } from 'mongoose';
import {
  accessProjection,
  connectMongo,
  consumerOf,
  createEvent,
  InternalClient,
  MongoInbox,
  workEvents,
  type AccessProjection,
  type EventEnvelope,
} from '../src/index.ts';
import { taskEventData, testLogger, testMongoUrl } from '../src/testing/index.ts';

const logger = testLogger('access');
let connection: Connection;
let projection: AccessProjection;
let stand: Server;
const calls: string[] = [];
/** What the stand-in for governance's and work's internal endpoints answers, by path. */
const answers = new Map<string, unknown>();

before(async () => {
  connection = await connectMongo(testMongoUrl('access'), logger);
  stand = createServer((req, res) => {
    calls.push(`${req.url} ${req.headers.authorization ?? ''}`);
    const answer = answers.get(req.url ?? '');
    res.writeHead(answer ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answer ?? { code: 'NOT_FOUND' }));
  });
  await new Promise<void>((resolve) => stand.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(stand.address() as AddressInfo).port}`;
  projection = accessProjection({
    connection,
    name: 'test',
    governance: new InternalClient({ name: 'governance', baseUrl, logger }),
    work: new InternalClient({ name: 'work', baseUrl, logger }),
  });
});

after(async () => {
  await connection.dropDatabase();
  await connection.close();
  await new Promise((resolve) => stand.close(resolve));
});

describe('the MongoDB access projection', () => {
  test('settings with dotted action keys round-trip, and decisions use them', async () => {
    const { writer, reader } = projection;
    const orgId = randomUUID();
    const userId = randomUUID();
    await writer.orgUpserted({ orgId, ownerId: randomUUID() });
    await writer.orgMemberSet({ orgId, userId, role: 'MEMBER' });
    await writer.orgSettingsChanged({
      orgId,
      settings: { thresholds: { 'announcement.post': 'MEMBER' }, projectDefaults: { 'task.update': 'LEAD' } },
    });
    const access = await reader.org(orgId, userId);
    assert.equal(access?.role, 'MEMBER');
    assert.equal(access?.settings.thresholds['announcement.post'], 'MEMBER');
    assert.equal(access?.settings.allowSelfRemoval, true, 'defaults fill what was not set');
  });

  test('projects: effective roles from org, team and explicit membership; PRIVATE hides; deletion hides', async () => {
    const { writer, reader } = projection;
    const orgId = randomUUID();
    const teamId = randomUUID();
    const projectId = randomUUID();
    const [admin, viewer, teamLead, stranger] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    await writer.orgMemberSet({ orgId, userId: admin, role: 'ADMIN' });
    await writer.orgMemberSet({ orgId, userId: viewer, role: 'MEMBER' });
    await writer.orgMemberSet({ orgId, userId: teamLead, role: 'MEMBER' });
    await writer.teamUpserted({ orgId, teamId });
    await writer.teamMemberSet({ orgId, teamId, userId: teamLead, role: 'LEAD' });
    const data = {
      projectId,
      orgId,
      teamId,
      name: 'P',
      key: 'P',
      status: 'ACTIVE' as const,
      visibility: 'PRIVATE' as const,
      ownerId: admin,
    };
    await writer.projectUpserted(data);
    assert.equal((await reader.project(projectId, admin))?.role, 'MANAGER');
    assert.equal((await reader.project(projectId, teamLead))?.role, 'LEAD');
    assert.equal(await reader.project(projectId, viewer), null, 'PRIVATE: no role from the org');
    assert.equal(await reader.project(projectId, stranger), null);
    await writer.projectMemberSet({ orgId, projectId, userId: viewer, role: 'CONTRIBUTOR' });
    assert.equal((await reader.project(projectId, viewer))?.role, 'CONTRIBUTOR');
    assert.deepEqual((await reader.projectPeople(projectId)).sort(), [teamLead, viewer].sort());

    await writer.orgMemberRemoved({ orgId, userId: teamLead });
    assert.equal(await reader.project(projectId, teamLead), null, 'removed from the org: team role gone too');
    await writer.projectDeleted({ projectId });
    assert.equal(await reader.project(projectId, admin), null);
  });

  test("a project's creator is its OWNER from project.created, whatever their org role; a transfer moves it", async () => {
    const inbox = new MongoInbox(connection);
    const { handle } = consumerOf('test', projection.subscriptions(inbox));
    const deliver = (event: EventEnvelope) =>
      handle({ event, topic: 'work.project', partition: 0, offset: '0' });
    const { reader } = projection;
    const orgId = randomUUID();
    const projectId = randomUUID();
    const [creator, heir] = [randomUUID(), randomUUID()];
    await projection.writer.orgMemberSet({ orgId, userId: creator, role: 'MEMBER' });
    await projection.writer.orgMemberSet({ orgId, userId: heir, role: 'MEMBER' });
    const data = {
      projectId,
      orgId,
      teamId: null,
      name: 'Mine',
      key: 'MINE',
      status: 'ACTIVE' as const,
      visibility: 'PRIVATE' as const,
      ownerId: creator,
    };
    await deliver(createEvent(workEvents.projectCreated, 'work', { subjectId: projectId, orgId, data }));
    assert.equal((await reader.project(projectId, creator))?.role, 'OWNER', 'the creator owns it');
    assert.equal(await reader.project(projectId, heir), null, 'PRIVATE: nobody else');

    const transfer = { projectId, orgId, fromUserId: creator, toUserId: heir };
    await deliver(
      createEvent(workEvents.projectOwnershipTransferred, 'work', {
        subjectId: projectId,
        orgId,
        data: transfer,
      }),
    );
    assert.equal((await reader.project(projectId, heir))?.role, 'OWNER');
    assert.equal((await reader.project(projectId, creator))?.role, 'MANAGER');
  });

  test('fallbacks: an unseen membership or task is asked once with the caller’s token; a tombstone is never resurrected', async () => {
    const { writer, reader } = projection;
    const orgId = randomUUID();
    const userId = randomUUID();
    const projectId = randomUUID();
    const taskId = randomUUID();
    answers.set(`/internal/orgs/${orgId}/members/${userId}`, {
      orgId,
      userId,
      role: 'MEMBER',
      teams: [],
      orgSettings: { thresholds: { 'member.invite': 'MANAGER' } },
      teamSettings: {},
    });
    const project = {
      projectId,
      orgId,
      teamId: null,
      name: 'New',
      key: 'NEW',
      status: 'ACTIVE' as const,
      visibility: 'ORG',
      ownerId: randomUUID(),
      settings: { thresholds: { 'comment.create': 'VIEWER' } },
      deleted: false,
      members: [],
    };
    answers.set(`/internal/tasks/${taskId}`, {
      taskId,
      orgId,
      projectId,
      key: 'NEW-1',
      title: 'Fresh',
      reporterId: userId,
      assigneeId: null,
      deleted: false,
      project,
    });

    assert.equal(await reader.task(taskId, userId), null, 'without a token only the projection counts');
    assert.equal(calls.length, 0);
    const found = await reader.task(taskId, userId, 'Bearer caller');
    assert.equal(found?.task.key, 'NEW-1');
    assert.equal(found?.project.role, 'VIEWER');
    assert.equal(found?.project.settings.project?.thresholds['comment.create'], 'VIEWER');
    assert.ok(
      calls.every((c) => c.endsWith('Bearer caller')),
      'the caller’s token is forwarded',
    );

    // Removed after the snapshot: the tombstone wins over a stale answer from governance.
    await writer.orgMemberRemoved({ orgId, userId });
    const before = calls.length;
    assert.equal(await reader.org(orgId, userId, 'Bearer caller'), null);
    assert.equal(calls.length, before, 'a known removal is not asked again');

    // An unknown org and user: governance says 404 → null.
    assert.equal(await reader.org(randomUUID(), randomUUID(), 'Bearer caller'), null);
  });

  test('task events skip the inbox; an update that changes nothing it keeps skips the store too', async () => {
    const inbox = new MongoInbox(connection);
    const { handle } = consumerOf('test', projection.subscriptions(inbox));
    const deliver = (event: EventEnvelope) =>
      handle({ event, topic: 'work.task', partition: 0, offset: '0' });
    const inboxed = async (event: EventEnvelope) =>
      (await connection
        .collection<{ _id: string }>('inbox')
        .countDocuments({ _id: `test-access:${event.id}` })) === 1;
    const taskId = randomUUID();
    const orgId = randomUUID();
    const task = taskEventData({
      taskId,
      orgId,
      projectId: randomUUID(),
      key: 'SKIP-1',
      number: 1,
      title: 'Before',
      reporterId: randomUUID(),
    });
    const updated = (
      version: number,
      title: string,
      changes: Record<string, { from: unknown; to: unknown }>,
    ) =>
      createEvent(workEvents.taskUpdated, 'work', {
        subjectId: taskId,
        orgId,
        data: { ...task, version, title, changes },
      });
    await deliver(createEvent(workEvents.taskCreated, 'work', { subjectId: taskId, orgId, data: task }));
    // Stored by one insert, with every field an upsert would have set.
    const { _id, ...created } = (await projection.models.Task.findById(taskId).lean())!;
    assert.deepEqual(created, {
      orgId,
      projectId: task.projectId,
      key: 'SKIP-1',
      title: 'Before',
      reporterId: task.reporterId,
      assigneeId: task.assigneeId ?? null,
      deleted: false,
    });

    const described = updated(2, 'Before', { description: { from: null, to: 'Now with words' } });
    await deliver(described);
    assert.equal(await inboxed(described), false, 'not even the inbox was asked');

    const retitled = updated(3, 'After', { title: { from: 'Before', to: 'After' } });
    await deliver(retitled);
    assert.equal(await inboxed(retitled), false, 'a task event keeps no inbox record');
    assert.equal((await projection.models.Task.findById(taskId).lean())?.title, 'After');
    // Redelivered in partition order (from the last committed offset), the events converge.
    await deliver(createEvent(workEvents.taskCreated, 'work', { subjectId: taskId, orgId, data: task }));
    await deliver(retitled);
    assert.equal((await projection.models.Task.findById(taskId).lean())?.title, 'After');
    assert.equal(await projection.models.Task.countDocuments({ _id: taskId }), 1);
  });
});
