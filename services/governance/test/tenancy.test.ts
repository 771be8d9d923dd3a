import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { assertProblem } from '@trellis/shared/testing';
import { api, newUser, orgWithRoles, startGovernance, type Governance, type TestUser } from './helpers.ts';

let gov: Governance;

before(async () => {
  gov = await startGovernance();
});

after(() => gov.close());

type Call = [method: 'get' | 'post' | 'patch' | 'delete', path: string, body?: object];

/** Every org, member, settings and team endpoint inside one org (ids of real things in it). */
function everyEndpointOf(ids: { orgId: string; teamId: string; userId: string }): Call[] {
  const { orgId, teamId, userId } = ids;
  const org = `/api/v1/orgs/${orgId}`;
  const team = `/api/v1/teams/${teamId}`;
  return [
    ['get', org],
    ['patch', org, { name: 'Mine now' }],
    ['delete', org],
    ['post', `${org}/restore`],
    ['post', `${org}/transfer-ownership`, { userId }],
    ['get', `${org}/settings`],
    ['patch', `${org}/settings`, { allowJoinRequests: true }],
    ['get', `${org}/members`],
    ['patch', `${org}/members/${userId}`, { role: 'VIEWER' }],
    ['delete', `${org}/members/${userId}`],
    ['post', `${org}/teams`, { name: 'Intruders' }],
    ['get', `${org}/teams`],
    ['get', team],
    ['patch', team, { name: 'Taken' }],
    ['delete', team],
    ['post', `${team}/transfer-ownership`, { userId }],
    ['get', `${team}/settings`],
    ['patch', `${team}/settings`, { thresholds: { 'member.add': 'LEAD' } }],
    ['get', `${team}/members`],
    ['post', `${team}/members`, { userId, role: 'MEMBER' }],
    ['patch', `${team}/members/${userId}`, { role: 'VIEWER' }],
    ['delete', `${team}/members/${userId}`],
  ];
}

async function expectAll404(caller: TestUser, calls: Call[]) {
  for (const [method, path, body] of calls) {
    const req = api(gov.app)[method](path).set(caller.auth);
    const res = body ? await req.send(body) : await req;
    assert.equal(
      res.status,
      404,
      `${method.toUpperCase()} ${path} → ${res.status} ${JSON.stringify(res.body)}`,
    );
    assertProblem(res, 404, 'NOT_FOUND');
  }
}

async function populatedOrg() {
  const roles = await orgWithRoles(gov);
  const team = await api(gov.app)
    .post(`/api/v1/orgs/${roles.org.id}/teams`)
    .set(roles.owner.auth)
    .send({ name: 'Core' });
  assert.equal(team.status, 201);
  await api(gov.app)
    .post(`/api/v1/teams/${team.body.id}/members`)
    .set(roles.owner.auth)
    .send({ userId: roles.member.id, role: 'MEMBER' });
  return { ...roles, teamId: team.body.id as string };
}

test('an outsider gets 404 on every org, member, settings and team endpoint of another org; nothing changes', async () => {
  const { org, owner, member, teamId } = await populatedOrg();
  const outsider = await newUser(gov, 'Eve Outsider');
  // Eve owns an org of her own: being an OWNER somewhere gives nothing elsewhere.
  await api(gov.app).post('/api/v1/orgs').set(outsider.auth).send({ name: 'Eve Inc' });
  await expectAll404(outsider, everyEndpointOf({ orgId: org.id, teamId, userId: member.id }));

  const after = await api(gov.app).get(`/api/v1/orgs/${org.id}`).set(owner.auth);
  assert.equal(after.body.name, org.name);
  assert.equal(after.body.version, 1);
  const members = await api(gov.app).get(`/api/v1/teams/${teamId}/members`).set(owner.auth);
  assert.equal(members.body.items.length, 2);
});

test('ids that do not exist are 404 too, and ids that are not uuids are 400', async () => {
  const user = await newUser(gov);
  await expectAll404(
    user,
    everyEndpointOf({ orgId: randomUUID(), teamId: randomUUID(), userId: randomUUID() }),
  );
  const res = await api(gov.app).get('/api/v1/orgs/not-a-uuid/members').set(user.auth);
  assertProblem(res, 400, 'VALIDATION_FAILED');
  assert.equal(res.body.errors[0].path, 'params.orgId');
});

test('a deleted org answers 404 for everything inside it, to its members too (restore aside)', async () => {
  const { org, owner, admin, member, teamId } = await populatedOrg();
  assert.equal((await api(gov.app).delete(`/api/v1/orgs/${org.id}`).set(owner.auth)).status, 204);
  const calls = everyEndpointOf({ orgId: org.id, teamId, userId: member.id }).filter(
    ([, path]) => !path.endsWith('/restore'),
  );
  await expectAll404(admin, calls);
  await expectAll404(owner, calls);
});
