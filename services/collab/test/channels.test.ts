import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { collabEvents, governanceEvents, workEvents } from '@trellis/shared';
import { assertProblem, envelopes, waitFor } from '@trellis/shared/testing';
import {
  addOrgMember,
  api,
  handledByChannels,
  newUser,
  orgWithRoles,
  projectData,
  projectOf,
  publish,
  published,
  startCollab,
  teamOf,
  walk,
  type Collab,
  type TestOrg,
  type TestUser,
} from './helpers.ts';

let collab: Collab;

before(async () => {
  collab = await startCollab();
});

after(() => collab.close());

interface ChannelItem {
  id: string;
  orgId: string;
  scope: string;
  scopeId: string;
  name: string;
}

const listChannels = (user: TestUser, orgId: string) =>
  api(collab.app).get('/api/v1/channels').query({ orgId }).set(user.auth);

const channelOf = (scope: string, scopeId: string) =>
  waitFor(() => collab.models.Channel.findOne({ scope, scopeId }).lean(), { what: `${scope} channel` });

const post = (user: TestUser, channelId: string, body: string) =>
  api(collab.app).post(`/api/v1/channels/${channelId}/messages`).set(user.auth).send({ body });

/** An org with a team (MEMBER in it), an ORG project and a PRIVATE project of that team member. */
async function orgWithChannels() {
  const org = await orgWithRoles(collab);
  const team = await teamOf(collab, org, [[org.MEMBER, 'MEMBER']], 'Platform');
  const open = await projectOf(collab, org, { name: 'Open', members: [[org.MEMBER, 'CONTRIBUTOR']] });
  const secret = await projectOf(collab, org, {
    name: 'Secret',
    visibility: 'PRIVATE',
    members: [[org.MEMBER, 'CONTRIBUTOR']],
  });
  const channels = {
    general: await channelOf('org', org.orgId),
    team: await channelOf('team', team.teamId),
    open: await channelOf('project', open.projectId),
    secret: await channelOf('project', secret.projectId),
  };
  return { org, team, open, secret, channels };
}

test('channels are created from org, team and project events, once each, with channel.created', async () => {
  const { org, team, open, channels } = await orgWithChannels();
  const general = await published(collab, collabEvents.channelCreated, (d) => d.scopeId === org.orgId);
  assert.deepEqual(general.data, {
    channelId: channels.general._id,
    orgId: org.orgId,
    scope: 'org',
    scopeId: org.orgId,
    name: 'general',
  });
  assert.equal(general.subjectId, channels.general._id, 'keyed by channel');
  const teamEvent = await published(collab, collabEvents.channelCreated, (d) => d.scopeId === team.teamId);
  assert.equal(teamEvent.data.name, 'Platform');
  const projectEvent = await published(
    collab,
    collabEvents.channelCreated,
    (d) => d.scopeId === open.projectId,
  );
  assert.deepEqual([projectEvent.data.scope, projectEvent.data.name], ['project', 'Open']);

  // The same org announced again (another event id): still one channel, no second channel.created.
  const restored = await publish(collab, governanceEvents.orgRestored, {
    subjectId: org.orgId,
    orgId: org.orgId,
    data: { orgId: org.orgId, name: 'Acme', slug: `acme-${org.orgId.slice(0, 8)}`, ownerId: org.owner.id },
  });
  const renamed = await publish(collab, governanceEvents.teamUpdated, {
    subjectId: team.teamId,
    orgId: org.orgId,
    data: {
      orgId: org.orgId,
      teamId: team.teamId,
      name: 'Platform Core',
      description: null,
      ownerId: org.owner.id,
    },
  });
  await waitFor(
    async () => (await collab.models.Channel.findById(channels.team._id).lean())?.name === 'Platform Core',
    {
      what: `the rename by ${renamed.id}`,
    },
  );
  await handledByChannels(collab, restored);
  assert.equal(await collab.models.Channel.countDocuments({ scope: 'org', scopeId: org.orgId }), 1);
  assert.equal(
    envelopes(collab.reader, 'collab.message').filter(
      (e) => e.type === 'channel.created' && e.data.scopeId === org.orgId,
    ).length,
    1,
  );

  const listed = await listChannels(org.owner, org.orgId);
  assert.equal(listed.status, 200);
  assert.deepEqual(
    listed.body.items.map((c: ChannelItem) => [c.scope, c.name]),
    [
      ['org', 'general'],
      ['team', 'Platform Core'],
      ['project', 'Open'],
      ['project', 'Secret'],
    ],
  );
  assert.deepEqual(listed.body.items[0], {
    id: channels.general._id,
    orgId: org.orgId,
    scope: 'org',
    scopeId: org.orgId,
    name: 'general',
  });
});

test("the internal endpoint tells notify a channel's scope, archived or not; 404 when unknown", async () => {
  const { org, channels } = await orgWithChannels();
  const general = channels.general;
  const res = await api(collab.app).get(`/internal/channels/${general._id}`).set(org.MEMBER.auth);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual(res.body, {
    channelId: general._id,
    orgId: org.orgId,
    scope: 'org',
    scopeId: org.orgId,
    archived: false,
  });
  assertProblem(
    await api(collab.app).get(`/internal/channels/${randomUUID()}`).set(org.MEMBER.auth),
    404,
    'NOT_FOUND',
  );
  assertProblem(await api(collab.app).get(`/internal/channels/${general._id}`), 401, 'UNAUTHENTICATED');
});

test('a project waiting for approval gets its channel only once it is active', async () => {
  const org = await orgWithRoles(collab);
  const projectId = randomUUID();
  const pending = projectData(org, projectId, { name: 'Pending', status: 'PENDING_APPROVAL' });
  await publish(collab, workEvents.projectCreated, { subjectId: projectId, orgId: org.orgId, data: pending });
  await waitFor(() => collab.services.projection.models.Project.findById(projectId).lean(), {
    what: 'project',
  });
  // Events of one project are handled in order: once the projection saw it, the channel step ran too.
  assert.equal(await collab.models.Channel.countDocuments({ scopeId: projectId }), 0);
  await publish(collab, workEvents.projectUpdated, {
    subjectId: projectId,
    orgId: org.orgId,
    data: { ...pending, status: 'ACTIVE' },
  });
  const channel = await published(collab, collabEvents.channelCreated, (d) => d.scopeId === projectId);
  assert.equal(channel.data.name, 'Pending');
});

test('a member listing before org.created arrived gets the general channel on demand, once', async () => {
  const orgId = randomUUID();
  const user = newUser(collab);
  await addOrgMember(collab, orgId, user, 'MEMBER');
  const [first, second] = await Promise.all([listChannels(user, orgId), listChannels(user, orgId)]);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.equal(second.status, 200);
  assert.deepEqual(
    first.body.items.map((c: ChannelItem) => [c.scope, c.name]),
    [['org', 'general']],
  );
  assert.equal(first.body.items[0].id, second.body.items[0].id);
  await published(collab, collabEvents.channelCreated, (d) => d.scopeId === orgId);
  // org.created arriving afterwards changes nothing.
  const late = await publish(collab, governanceEvents.orgCreated, {
    subjectId: orgId,
    orgId,
    data: { orgId, name: 'Late', slug: `late-${orgId.slice(0, 8)}`, ownerId: user.id },
  });
  await handledByChannels(collab, late);
  assert.equal(await collab.models.Channel.countDocuments({ scopeId: orgId }), 1);
});

test('each member sees the channels of the scopes they can access; strangers get 404', async () => {
  const { org, channels } = await orgWithChannels();
  const names = async (user: TestUser) =>
    ((await listChannels(user, org.orgId)).body.items as ChannelItem[]).map((c) => c.name);
  // The team member: everything. The org VIEWER: general and the ORG-visible project only.
  assert.deepEqual(await names(org.MEMBER), ['general', 'Platform', 'Open', 'Secret']);
  assert.deepEqual(await names(org.VIEWER), ['general', 'Open']);
  // Org ADMIN acts as team MANAGER and project MANAGER: sees all.
  assert.deepEqual(await names(org.ADMIN), ['general', 'Platform', 'Open', 'Secret']);

  // Pages of one walk the whole list once.
  assert.deepEqual(await walk(collab, org.MEMBER, '/api/v1/channels', { orgId: org.orgId }, 1), [
    channels.general._id,
    channels.team._id,
    channels.open._id,
    channels.secret._id,
  ]);
  assert.deepEqual(await walk(collab, org.VIEWER, '/api/v1/channels', { orgId: org.orgId }, 1), [
    channels.general._id,
    channels.open._id,
  ]);

  const stranger = newUser(collab);
  assertProblem(await listChannels(stranger, org.orgId), 404, 'NOT_FOUND');
  assertProblem(
    await api(collab.app).get(`/api/v1/channels/${channels.general._id}/messages`).set(stranger.auth),
    404,
    'NOT_FOUND',
  );
  // Unreadable channels of one's own org are 404 too.
  assertProblem(
    await api(collab.app).get(`/api/v1/channels/${channels.secret._id}/messages`).set(org.VIEWER.auth),
    404,
    'NOT_FOUND',
  );
  assertProblem(await post(org.VIEWER, channels.team._id, 'hi'), 404, 'NOT_FOUND');
  assertProblem(await post(org.MEMBER, randomUUID(), 'hi'), 404, 'NOT_FOUND');

  // Losing team membership takes the team channel away at once.
  await publish(collab, governanceEvents.teamMemberRemoved, {
    subjectId: channels.team.scopeId,
    orgId: org.orgId,
    data: { orgId: org.orgId, teamId: channels.team.scopeId, userId: org.MEMBER.id, reason: 'removed' },
  });
  await waitFor(async () => !(await names(org.MEMBER)).includes('Platform'), {
    what: 'the team channel gone',
  });
  assertProblem(
    await api(collab.app).get(`/api/v1/channels/${channels.team._id}/messages`).set(org.MEMBER.auth),
    404,
    'NOT_FOUND',
  );
});

test('posting needs MEMBER (org, team) or CONTRIBUTOR (project): a VIEWER reads but is denied', async () => {
  const { org, channels } = await orgWithChannels();
  const viewerTeam = await teamOf(collab, org, [[org.VIEWER, 'VIEWER']], 'Readers');
  const readersChannel = await channelOf('team', viewerTeam.teamId);

  const inOrg = await post(org.VIEWER, channels.general._id, 'hi');
  assertProblem(inOrg, 403, 'POLICY_DENIED');
  assert.deepEqual(inOrg.body.policy, {
    scope: 'org',
    action: 'message.post',
    requiredRole: 'MEMBER',
    yourRole: 'VIEWER',
  });
  const inTeam = await post(org.VIEWER, readersChannel._id, 'hi');
  assertProblem(inTeam, 403, 'POLICY_DENIED');
  assert.deepEqual(inTeam.body.policy, {
    scope: 'team',
    action: 'message.post',
    requiredRole: 'MEMBER',
    yourRole: 'VIEWER',
  });
  const inProject = await post(org.VIEWER, channels.open._id, 'hi');
  assertProblem(inProject, 403, 'POLICY_DENIED');
  assert.deepEqual(inProject.body.policy, {
    scope: 'project',
    action: 'message.post',
    requiredRole: 'CONTRIBUTOR',
    yourRole: 'VIEWER',
  });

  // Reading is open to anyone with access.
  for (const channel of [channels.general, readersChannel, channels.open]) {
    const read = await api(collab.app).get(`/api/v1/channels/${channel._id}/messages`).set(org.VIEWER.auth);
    assert.equal(read.status, 200);
    assert.deepEqual(read.body, { items: [], nextCursor: null });
  }
  // Those who meet the minimum post: MEMBER everywhere it can see, the org OWNER anywhere.
  for (const channel of [channels.general, channels.team, channels.open, channels.secret])
    assert.equal((await post(org.MEMBER, channel._id, 'hello')).status, 201);
  assert.equal((await post(org.owner, readersChannel._id, 'hello readers')).status, 201);
});

test('messages: newest first in keyset pages, mentions by access, edit and delete by the author only', async () => {
  const { org, channels } = await orgWithChannels();
  const channelId = channels.secret._id;
  const ids: string[] = [];
  for (let i = 0; i < 5; i += 1) {
    const res = await post(org.MEMBER, channelId, `message ${i}`);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.headers.location, `/api/v1/channels/${channelId}/messages/${res.body.id}`);
    const located = await api(collab.app).get(res.headers.location!).set(org.MEMBER.auth);
    assert.equal(located.status, 200, 'the Location answers GET');
    assert.deepEqual(located.body, res.body);
    ids.push(res.body.id);
  }
  const newestFirst = [...ids].reverse();
  const page = await api(collab.app)
    .get(`/api/v1/channels/${channelId}/messages`)
    .query({ limit: '2' })
    .set(org.MEMBER.auth);
  assert.deepEqual(
    page.body.items.map((m: { body: string }) => m.body),
    ['message 4', 'message 3'],
  );
  assert.deepEqual(
    await walk(collab, org.MEMBER, `/api/v1/channels/${channelId}/messages`, {}, 2),
    newestFirst,
  );
  assert.deepEqual(
    await walk(collab, org.owner, `/api/v1/channels/${channelId}/messages`, {}, 100),
    newestFirst,
  );

  // Mentions count only for users who can read the (PRIVATE project's) channel.
  const body = `see <@${org.VIEWER.id}> <@${org.ADMIN.id}> <@${org.MEMBER.id}>`;
  const mentioned = await post(org.MEMBER, channelId, body);
  assert.deepEqual(mentioned.body.mentions, [org.ADMIN.id, org.MEMBER.id]);
  const created = await published(
    collab,
    collabEvents.messageCreated,
    (d) => d.messageId === mentioned.body.id,
  );
  assert.equal(created.subjectId, channelId);
  assert.deepEqual(created.data, {
    messageId: mentioned.body.id,
    channelId,
    orgId: org.orgId,
    scope: 'project',
    scopeId: channels.secret.scopeId,
    authorId: org.MEMBER.id,
    body,
    mentions: [org.ADMIN.id, org.MEMBER.id],
  });

  const path = `/api/v1/channels/${channelId}/messages/${mentioned.body.id}`;
  assertProblem(
    await api(collab.app).patch(path).set(org.ADMIN.auth).send({ body: 'mine now' }),
    403,
    'FORBIDDEN',
  );
  assertProblem(await api(collab.app).delete(path).set(org.ADMIN.auth), 403, 'FORBIDDEN');
  // The message must belong to the channel in the path.
  assertProblem(
    await api(collab.app)
      .patch(`/api/v1/channels/${channels.general._id}/messages/${mentioned.body.id}`)
      .set(org.MEMBER.auth)
      .send({ body: 'x' }),
    404,
    'NOT_FOUND',
  );

  assert.equal(mentioned.headers.etag, '"1"');
  const edited = await api(collab.app)
    .patch(path)
    .set(org.MEMBER.auth)
    .set('If-Match', '"1"')
    .send({ body: `now <@${org.owner.id}> and <@${org.ADMIN.id}>` });
  assert.equal(edited.status, 200, JSON.stringify(edited.body));
  assert.equal(edited.headers.etag, '"2"');
  assert.equal(edited.body.version, 2);
  assertProblem(
    await api(collab.app).patch(path).set(org.MEMBER.auth).set('If-Match', '"1"').send({ body: 'stale' }),
    412,
    'PRECONDITION_FAILED',
  );
  assert.ok(edited.body.editedAt);
  assert.deepEqual(edited.body.mentions, [org.owner.id, org.ADMIN.id]);
  const updated = await published(
    collab,
    collabEvents.messageUpdated,
    (d) => d.messageId === mentioned.body.id,
  );
  assert.deepEqual(updated.data.addedMentions, [org.owner.id]);

  assert.equal((await api(collab.app).delete(path).set(org.MEMBER.auth)).status, 204);
  const deleted = await published(
    collab,
    collabEvents.messageDeleted,
    (d) => d.messageId === mentioned.body.id,
  );
  assert.equal(deleted.actorId, org.MEMBER.id);
  const latest = await api(collab.app)
    .get(`/api/v1/channels/${channelId}/messages`)
    .query({ limit: '1' })
    .set(org.MEMBER.auth);
  assert.deepEqual(
    latest.body.items.map((m: { id: string; body: string; mentions: string[]; deleted: boolean }) => [
      m.id,
      m.body,
      m.mentions,
      m.deleted,
    ]),
    [[mentioned.body.id, '', [], true]],
  );
  assertProblem(await api(collab.app).delete(path).set(org.MEMBER.auth), 404, 'NOT_FOUND');
  assertProblem(
    await api(collab.app).patch(path).set(org.MEMBER.auth).send({ body: 'again' }),
    404,
    'NOT_FOUND',
  );
});

test('a deleted team or project archives its channel (hidden, channel.archived); a restore brings it back', async () => {
  const { org, team, open, channels } = await orgWithChannels();
  assert.equal((await post(org.MEMBER, channels.open._id, 'before')).status, 201);
  await publish(collab, governanceEvents.teamDeleted, {
    subjectId: team.teamId,
    orgId: org.orgId,
    actorId: org.owner.id,
    data: { orgId: org.orgId, teamId: team.teamId },
  });
  await publish(collab, workEvents.projectDeleted, {
    subjectId: open.projectId,
    orgId: org.orgId,
    actorId: org.owner.id,
    data: { projectId: open.projectId, orgId: org.orgId },
  });
  const archived = await published(collab, collabEvents.channelArchived, (d) => d.scopeId === team.teamId);
  assert.deepEqual(archived.data, {
    channelId: channels.team._id,
    orgId: org.orgId,
    scope: 'team',
    scopeId: team.teamId,
  });
  assert.equal(archived.actorId, org.owner.id);
  await published(collab, collabEvents.channelArchived, (d) => d.scopeId === open.projectId);

  const names = async (user: TestUser) =>
    ((await listChannels(user, org.orgId)).body.items as ChannelItem[]).map((c) => c.name);
  assert.deepEqual(await names(org.owner), ['general', 'Secret']);
  for (const channel of [channels.team, channels.open]) {
    assertProblem(
      await api(collab.app).get(`/api/v1/channels/${channel._id}/messages`).set(org.owner.auth),
      404,
      'NOT_FOUND',
    );
    assertProblem(await post(org.owner, channel._id, 'hello?'), 404, 'NOT_FOUND');
  }

  await publish(collab, workEvents.projectRestored, {
    subjectId: open.projectId,
    orgId: org.orgId,
    actorId: org.owner.id,
    data: open,
  });
  await waitFor(async () => (await names(org.owner)).includes('Open'), { what: 'the restored channel' });
  // Announced as created anew, with the same channel id.
  const createdTwice = () =>
    envelopes(collab.reader, 'collab.message').filter(
      (e) => e.type === 'channel.created' && e.data.scopeId === open.projectId,
    );
  await waitFor(() => createdTwice().length === 2, { what: 'channel.created again' });
  assert.deepEqual(
    createdTwice().map((e) => e.data.channelId),
    [channels.open._id, channels.open._id],
  );
  // Its history is intact.
  const history = await api(collab.app)
    .get(`/api/v1/channels/${channels.open._id}/messages`)
    .set(org.MEMBER.auth);
  assert.deepEqual(
    history.body.items.map((m: { body: string }) => m.body),
    ['before'],
  );
});

test('malformed channel input answers 400 problems naming each field', async () => {
  const { org, channels } = await orgWithChannels();
  const check = async (
    res: { status: number; headers: Record<string, string>; body: Record<string, unknown> },
    paths: string[],
  ) => {
    assertProblem(res, 400, 'VALIDATION_FAILED');
    const reported = (res.body.errors as { path: string }[]).map((e) => e.path);
    for (const path of paths) assert.ok(reported.includes(path), `${path} in ${JSON.stringify(reported)}`);
  };
  const member: TestOrg['MEMBER'] = org.MEMBER;
  await check(await api(collab.app).get('/api/v1/channels').set(member.auth), ['query.orgId']);
  await check(await listChannels(member, 'acme'), ['query.orgId']);
  await check(
    await api(collab.app).get('/api/v1/channels').query({ orgId: org.orgId, cursor: '!!' }).set(member.auth),
    ['query.cursor'],
  );
  await check(await api(collab.app).get('/api/v1/channels/x/messages').set(member.auth), ['params.id']);
  await check(
    await api(collab.app)
      .get(`/api/v1/channels/${channels.general._id}/messages`)
      .query({ limit: 'many' })
      .set(member.auth),
    ['query.limit'],
  );
  await check(await post(member, channels.general._id, ''), ['body.body']);
  await check(await post(member, channels.general._id, 'x'.repeat(4_001)), ['body.body']);
  await check(await post(member, 'x', 'hi'), ['params.id']);
  await check(
    await api(collab.app)
      .patch(`/api/v1/channels/${channels.general._id}/messages/nope`)
      .set(member.auth)
      .send({}),
    ['params.messageId', 'body.body'],
  );
  assert.equal((await post(member, channels.general._id, 'x'.repeat(4_000))).status, 201);
});
