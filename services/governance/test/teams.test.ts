import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertProblem, type TopicReader } from '@trellis/shared/testing';
import {
  api,
  createOrg,
  envelopes,
  newUser,
  orgWithRoles,
  readTopics,
  startGovernance,
  waitForEvent,
  type Governance,
  type TestUser,
} from './helpers.ts';

let gov: Governance;
let reader: TopicReader;

before(async () => {
  gov = await startGovernance();
  reader = await readTopics(gov, ['governance.team']);
});

after(async () => {
  await reader.stop();
  await gov.close();
});

async function createTeam(orgId: string, actor: TestUser, name = 'Core', description?: string) {
  const res = await api(gov.app)
    .post(`/api/v1/orgs/${orgId}/teams`)
    .set(actor.auth)
    .send({ name, ...(description === undefined ? {} : { description }) });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res;
}

/** Lets org MANAGERs create teams (the default threshold is ADMIN). */
async function managersCreateTeams(orgId: string, owner: TestUser) {
  const res = await api(gov.app)
    .patch(`/api/v1/orgs/${orgId}/settings`)
    .set(owner.auth)
    .send({ thresholds: { 'team.create': 'MANAGER' } });
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

const addToTeam = (teamId: string, actor: TestUser, userId: string, role: string) =>
  api(gov.app).post(`/api/v1/teams/${teamId}/members`).set(actor.auth).send({ userId, role });

describe('teams', () => {
  test('create: the creator is team OWNER; list and get carry each caller’s effective role; events', async () => {
    const { org, owner, admin, member } = await orgWithRoles(gov);
    const res = await createTeam(org.id, admin, 'Platform', 'Infra and tooling');
    const team = res.body;
    assert.equal(res.headers.location, `/api/v1/teams/${team.id}`);
    assert.deepEqual(
      { ...team, id: undefined, createdAt: undefined },
      {
        id: undefined,
        createdAt: undefined,
        orgId: org.id,
        name: 'Platform',
        description: 'Infra and tooling',
        ownerId: admin.id,
        myRole: 'OWNER',
        version: 1,
      },
    );
    assertProblem(
      await api(gov.app).post(`/api/v1/orgs/${org.id}/teams`).set(admin.auth).send({ name: 'platform' }),
      409,
      'CONFLICT',
    );
    const asOwner = await api(gov.app).get(`/api/v1/teams/${team.id}`).set(owner.auth);
    assert.equal(asOwner.body.myRole, 'MANAGER'); // the org OWNER acts as MANAGER (and bypasses)
    assert.equal(asOwner.headers.etag, '"1"');
    const listed = await api(gov.app).get(`/api/v1/orgs/${org.id}/teams`).set(member.auth);
    assert.equal(listed.status, 200);
    assert.deepEqual(
      listed.body.items.map((t: { id: string; myRole: string | null }) => [t.id, t.myRole]),
      [[team.id, null]],
    );

    const created = await waitForEvent(
      reader,
      'governance.team',
      (e) => e.type === 'team.created' && e.subjectId === team.id,
    );
    assert.equal(created.orgId, org.id);
    assert.equal(created.actorId, admin.id);
    assert.deepEqual(created.data, {
      orgId: org.id,
      teamId: team.id,
      name: 'Platform',
      description: 'Infra and tooling',
      ownerId: admin.id,
    });
    await waitForEvent(
      reader,
      'governance.team',
      (e) => e.type === 'team.memberAdded' && e.subjectId === team.id,
    );
  });

  test('PATCH and DELETE need team MANAGER+ (effective); If-Match; soft delete hides the team', async () => {
    const { org, owner, admin, manager, member } = await orgWithRoles(gov);
    await managersCreateTeams(org.id, owner);
    const team = (await createTeam(org.id, manager, 'Web')).body;
    assert.equal((await addToTeam(team.id, manager, member.id, 'LEAD')).status, 201);
    const path = `/api/v1/teams/${team.id}`;
    const denied = await api(gov.app).patch(path).set(member.auth).send({ name: 'Nope' });
    assertProblem(denied, 403, 'POLICY_DENIED');
    assert.deepEqual(denied.body.policy, {
      scope: 'team',
      action: 'team.update',
      requiredRole: 'MANAGER',
      yourRole: 'LEAD',
    });
    assertProblem(await api(gov.app).patch(path).set(member.auth).send({}), 400, 'VALIDATION_FAILED');
    const renamed = await api(gov.app)
      .patch(path)
      .set(admin.auth)
      .set('If-Match', '"1"')
      .send({ name: 'Frontend' });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    assert.equal(renamed.body.name, 'Frontend');
    assert.equal(renamed.headers.etag, '"2"');
    assertProblem(
      await api(gov.app).patch(path).set(admin.auth).set('If-Match', '"1"').send({ description: 'x' }),
      412,
      'PRECONDITION_FAILED',
    );
    assertProblem(await api(gov.app).delete(path).set(member.auth), 403, 'POLICY_DENIED');
    assert.equal((await api(gov.app).delete(path).set(owner.auth)).status, 204);
    assertProblem(await api(gov.app).get(path).set(owner.auth), 404, 'NOT_FOUND');
    assertProblem(await api(gov.app).get(`${path}/members`).set(owner.auth), 404, 'NOT_FOUND');
    const listed = await api(gov.app).get(`/api/v1/orgs/${org.id}/teams`).set(owner.auth);
    assert.deepEqual(listed.body.items, []);
    // The name is free again.
    await createTeam(org.id, owner, 'Frontend');
  });

  test('team members: policy member.add, a role below your own, org members only (422), no duplicates', async () => {
    const { org, owner, manager, member, viewer } = await orgWithRoles(gov);
    const team = (await createTeam(org.id, owner, 'Data')).body;
    assert.equal((await addToTeam(team.id, owner, manager.id, 'MANAGER')).status, 201);
    const added = await addToTeam(team.id, manager, member.id, 'LEAD');
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.equal(added.headers.location, `/api/v1/teams/${team.id}/members/${member.id}`);
    const located = await api(gov.app).get(added.headers.location!).set(member.auth);
    assert.equal(located.status, 200, 'the Location answers GET');
    assert.deepEqual(located.body, added.body);
    assert.deepEqual(
      { ...added.body, joinedAt: undefined },
      { userId: member.id, name: member.name, email: member.email, role: 'LEAD', joinedAt: undefined },
    );

    const stranger = await newUser(gov);
    const notInOrg = await addToTeam(team.id, owner, stranger.id, 'MEMBER');
    assertProblem(notInOrg, 422, 'VALIDATION_FAILED');
    assert.deepEqual(notInOrg.body.errors, [
      { path: 'body.userId', message: 'Not a member of the organization' },
    ]);
    assertProblem(await addToTeam(team.id, owner, member.id, 'MEMBER'), 409, 'CONFLICT');
    assertProblem(await addToTeam(team.id, manager, viewer.id, 'MANAGER'), 403, 'FORBIDDEN'); // not below own
    assertProblem(await addToTeam(team.id, owner, viewer.id, 'OWNER'), 422, 'VALIDATION_FAILED');
    const lead = await addToTeam(team.id, member, viewer.id, 'VIEWER');
    assertProblem(lead, 403, 'POLICY_DENIED');
    assert.deepEqual(lead.body.policy, {
      scope: 'team',
      action: 'member.add',
      requiredRole: 'MANAGER',
      yourRole: 'LEAD',
    });
    assertProblem(await addToTeam(team.id, owner, 'not-a-uuid', 'MEMBER'), 400, 'VALIDATION_FAILED');

    const list = await api(gov.app).get(`/api/v1/teams/${team.id}/members`).set(viewer.auth);
    assert.deepEqual(
      list.body.items.map((m: { userId: string; role: string }) => [m.userId, m.role]),
      [
        [owner.id, 'OWNER'],
        [manager.id, 'MANAGER'],
        [member.id, 'LEAD'],
      ],
    );
  });

  test('team role changes and removals follow the membership rules; leaving; the team owner cannot leave', async () => {
    const { org, owner, admin, manager, member } = await orgWithRoles(gov);
    await managersCreateTeams(org.id, owner);
    const team = (await createTeam(org.id, manager, 'Mobile')).body;
    await addToTeam(team.id, manager, member.id, 'MEMBER');
    const other = await newUser(gov);
    const patch = (actor: TestUser, userId: string, role: string) =>
      api(gov.app).patch(`/api/v1/teams/${team.id}/members/${userId}`).set(actor.auth).send({ role });
    const remove = (actor: TestUser, userId: string) =>
      api(gov.app).delete(`/api/v1/teams/${team.id}/members/${userId}`).set(actor.auth);

    const promoted = await patch(admin, member.id, 'LEAD'); // org ADMIN acts as team MANAGER
    assert.equal(promoted.status, 200, JSON.stringify(promoted.body));
    assert.equal(promoted.body.role, 'LEAD');
    assertProblem(await patch(admin, member.id, 'MANAGER'), 403, 'FORBIDDEN');
    assertProblem(await patch(admin, manager.id, 'MEMBER'), 409, 'OWNER_MUST_TRANSFER');
    assertProblem(await patch(member, manager.id, 'MEMBER'), 403, 'POLICY_DENIED');
    assertProblem(await patch(admin, other.id, 'MEMBER'), 404, 'NOT_FOUND');
    assert.equal((await patch(owner, member.id, 'MANAGER')).status, 200); // org OWNER bypasses

    assertProblem(await remove(manager, manager.id), 409, 'OWNER_MUST_TRANSFER');
    assert.equal((await remove(member, member.id)).status, 204); // leaving the team

    const changed = await waitForEvent(
      reader,
      'governance.team',
      (e) => e.type === 'team.memberRoleChanged' && e.subjectId === team.id,
    );
    assert.deepEqual(changed.data, {
      orgId: org.id,
      teamId: team.id,
      userId: member.id,
      from: 'MEMBER',
      to: 'LEAD',
    });
    assert.equal(changed.actorId, admin.id);
    const left = await waitForEvent(
      reader,
      'governance.team',
      (e) => e.type === 'team.memberRemoved' && e.subjectId === team.id,
    );
    assert.equal(left.data.reason, 'left');
  });

  test('team ownership transfer: owner (or org OWNER) to a team member; old owner → MANAGER', async () => {
    const { org, owner, admin, member, viewer } = await orgWithRoles(gov);
    const team = (await createTeam(org.id, admin, 'Sec')).body;
    await addToTeam(team.id, admin, member.id, 'MEMBER');
    const path = `/api/v1/teams/${team.id}/transfer-ownership`;
    assertProblem(
      await api(gov.app).post(path).set(member.auth).send({ userId: member.id }),
      403,
      'POLICY_DENIED',
    );
    const notOnTeam = await api(gov.app).post(path).set(admin.auth).send({ userId: viewer.id });
    assertProblem(notOnTeam, 422, 'VALIDATION_FAILED');
    const moved = await api(gov.app).post(path).set(admin.auth).send({ userId: member.id });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    assert.equal(moved.body.ownerId, member.id);
    assert.equal(moved.body.myRole, 'MANAGER');
    const list = await api(gov.app).get(`/api/v1/teams/${team.id}/members`).set(owner.auth);
    assert.deepEqual(
      list.body.items.map((m: { userId: string; role: string }) => [m.userId, m.role]),
      [
        [admin.id, 'MANAGER'],
        [member.id, 'OWNER'],
      ],
    );
    // The org OWNER may hand it back (bypass), e.g. when the team owner is unavailable.
    const back = await api(gov.app).post(path).set(owner.auth).send({ userId: admin.id });
    assert.equal(back.status, 200, JSON.stringify(back.body));
    const event = await waitForEvent(
      reader,
      'governance.team',
      (e) => e.type === 'team.ownershipTransferred' && e.subjectId === team.id,
    );
    assert.deepEqual(event.data, {
      orgId: org.id,
      teamId: team.id,
      fromUserId: admin.id,
      toUserId: member.id,
    });
  });

  test('the FREE plan allows 5 teams: the sixth is 409 LIMIT_REACHED naming the limit', async () => {
    const owner = await newUser(gov);
    const org = await createOrg(gov, owner);
    for (let i = 1; i <= 5; i++) await createTeam(org.id, owner, `Team ${i}`);
    const sixth = await api(gov.app)
      .post(`/api/v1/orgs/${org.id}/teams`)
      .set(owner.auth)
      .send({ name: 'Team 6' });
    assertProblem(sixth, 409, 'LIMIT_REACHED');
    assert.deepEqual(sixth.body.limit, { plan: 'FREE', resource: 'teams', max: 5 });
    assert.match(sixth.body.detail, /5 teams/);
    const created = envelopes(reader, 'governance.team').filter(
      (e) => e.type === 'team.created' && e.orgId === org.id,
    );
    assert.ok(created.length <= 5);
    // A deleted team frees its slot.
    const teams = await api(gov.app).get(`/api/v1/orgs/${org.id}/teams`).set(owner.auth);
    await api(gov.app).delete(`/api/v1/teams/${teams.body.items[0].id}`).set(owner.auth);
    await createTeam(org.id, owner, 'Team 6');
  });
});
