import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertProblem, type TopicReader } from '@trellis/shared/testing';
import { api, orgWithRoles, readTopics, startGovernance, waitForEvent, type Governance } from './helpers.ts';

let gov: Governance;
let reader: TopicReader;

before(async () => {
  gov = await startGovernance();
  reader = await readTopics(gov, ['governance.org', 'governance.team']);
});

after(async () => {
  await reader.stop();
  await gov.close();
});

test('org settings: defaults; an ADMIN raises member.invite to OWNER and reads it back; org.settingsChanged', async () => {
  const { org, admin, member } = await orgWithRoles(gov);
  const path = `/api/v1/orgs/${org.id}/settings`;
  const initial = await api(gov.app).get(path).set(member.auth);
  assert.equal(initial.status, 200, JSON.stringify(initial.body));
  assert.deepEqual(initial.body.thresholds, {});
  assert.equal(initial.body.thresholdsInForce['member.invite'], 'ADMIN');
  assert.equal(initial.body.allowSelfRemoval, true);
  assert.equal(initial.body.plan, 'FREE');

  const raised = await api(gov.app)
    .patch(path)
    .set(admin.auth)
    .send({ thresholds: { 'member.invite': 'OWNER' }, projectDefaults: { 'task.delete': 'LEAD' } });
  assert.equal(raised.status, 200, JSON.stringify(raised.body));
  const read = await api(gov.app).get(path).set(member.auth);
  assert.deepEqual(read.body.thresholds, { 'member.invite': 'OWNER' });
  assert.equal(read.body.thresholdsInForce['member.invite'], 'OWNER');
  assert.deepEqual(read.body.projectDefaults, { 'task.delete': 'LEAD' });

  const reset = await api(gov.app)
    .patch(path)
    .set(admin.auth)
    .send({ thresholds: { 'member.invite': null } });
  assert.deepEqual(reset.body.thresholds, {});

  const event = await waitForEvent(
    reader,
    'governance.org',
    (e) => e.type === 'org.settingsChanged' && e.orgId === org.id,
  );
  assert.equal(event.actorId, admin.id);
  assert.deepEqual((event.data.settings as { thresholds: unknown }).thresholds, { 'member.invite': 'OWNER' });
});

test('a threshold outside its range is 422 naming the range; unknown keys and roles are 400; MANAGER may not PATCH', async () => {
  const { org, owner, manager } = await orgWithRoles(gov);
  const path = `/api/v1/orgs/${org.id}/settings`;
  const outside = await api(gov.app)
    .patch(path)
    .set(owner.auth)
    .send({ thresholds: { 'member.updateRole': 'MEMBER' } });
  assertProblem(outside, 422, 'VALIDATION_FAILED');
  assert.deepEqual(outside.body.errors, [
    { path: 'thresholds.member.updateRole', message: 'must be between ADMIN and OWNER' },
  ]);
  assertProblem(
    await api(gov.app)
      .patch(path)
      .set(owner.auth)
      .send({ thresholds: { 'x.y': 'ADMIN' } }),
    400,
    'VALIDATION_FAILED',
  );
  assertProblem(
    await api(gov.app).patch(path).set(owner.auth).send({ plan: 'GOLD' }),
    400,
    'VALIDATION_FAILED',
  );
  assertProblem(
    await api(gov.app).patch(path).set(owner.auth).send({ bogus: true }),
    400,
    'VALIDATION_FAILED',
  );
  assertProblem(
    await api(gov.app).patch(path).set(owner.auth).set('Content-Type', 'application/json').send('{"plan":'),
    400,
    'VALIDATION_FAILED',
  );
  const denied = await api(gov.app).patch(path).set(manager.auth).send({ allowJoinRequests: true });
  assertProblem(denied, 403, 'POLICY_DENIED');
  assert.equal(denied.body.policy.requiredRole, 'ADMIN');
  // Nothing was half-written.
  const read = await api(gov.app).get(path).set(owner.auth);
  assert.deepEqual(read.body.thresholds, {});
  assert.equal(read.body.allowJoinRequests, false);
});

test('a MEMBER creating a team is 403 POLICY_DENIED with the policy; lowering team.create to MEMBER lets them', async () => {
  const { org, owner, member } = await orgWithRoles(gov);
  const denied = await api(gov.app)
    .post(`/api/v1/orgs/${org.id}/teams`)
    .set(member.auth)
    .send({ name: 'Mine' });
  assertProblem(denied, 403, 'POLICY_DENIED');
  assert.deepEqual(denied.body.policy, {
    scope: 'org',
    action: 'team.create',
    requiredRole: 'ADMIN',
    yourRole: 'MEMBER',
  });
  const lowered = await api(gov.app)
    .patch(`/api/v1/orgs/${org.id}/settings`)
    .set(owner.auth)
    .send({ thresholds: { 'team.create': 'MEMBER' } });
  assert.equal(lowered.status, 200);
  const created = await api(gov.app)
    .post(`/api/v1/orgs/${org.id}/teams`)
    .set(member.auth)
    .send({ name: 'Mine' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.myRole, 'OWNER');
});

test('team settings: team OWNER or org ADMIN+ may change them (with projectDefaults); a team MANAGER may not', async () => {
  const { org, owner, admin, manager, member } = await orgWithRoles(gov);
  const team = await api(gov.app).post(`/api/v1/orgs/${org.id}/teams`).set(owner.auth).send({ name: 'Core' });
  await api(gov.app)
    .post(`/api/v1/teams/${team.body.id}/members`)
    .set(owner.auth)
    .send({ userId: manager.id, role: 'MANAGER' });
  const path = `/api/v1/teams/${team.body.id}/settings`;

  const initial = await api(gov.app).get(path).set(member.auth);
  assert.equal(initial.status, 200, JSON.stringify(initial.body));
  assert.equal(initial.body.thresholdsInForce['member.add'], 'MANAGER');

  const denied = await api(gov.app)
    .patch(path)
    .set(manager.auth)
    .send({ thresholds: { 'member.add': 'LEAD' } });
  assertProblem(denied, 403, 'POLICY_DENIED');
  const changed = await api(gov.app)
    .patch(path)
    .set(admin.auth)
    .send({ thresholds: { 'member.add': 'LEAD' }, projectDefaults: { 'sprint.manage': 'MANAGER' } });
  assert.equal(changed.status, 200, JSON.stringify(changed.body));
  assert.deepEqual(changed.body.thresholds, { 'member.add': 'LEAD' });
  assert.deepEqual(changed.body.projectDefaults, { 'sprint.manage': 'MANAGER' });
  const outside = await api(gov.app)
    .patch(path)
    .set(owner.auth)
    .send({ thresholds: { 'member.remove': 'LEAD' } });
  assertProblem(outside, 422, 'VALIDATION_FAILED');
  assert.match(outside.body.errors[0].message, /between MANAGER and OWNER/);

  const event = await waitForEvent(
    reader,
    'governance.team',
    (e) => e.type === 'team.settingsChanged' && e.orgId === org.id,
  );
  assert.equal(event.actorId, admin.id);
  assert.equal(event.data.teamId, team.body.id);
});
