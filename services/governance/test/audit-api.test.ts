import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertProblem } from '@trellis/shared/testing';
import { api, createOrg, newUser, orgWithRoles, startGovernance, type Governance } from './helpers.ts';

let gov: Governance;

before(async () => {
  gov = await startGovernance();
});

after(() => gov.close());

test('governance actions appear in the audit log in order, and the chain verifies', async () => {
  const { org, owner, admin, member } = await orgWithRoles(gov);
  const team = await api(gov.app)
    .post(`/api/v1/orgs/${org.id}/teams`)
    .set(owner.auth)
    .send({ name: 'Platform' });
  assert.equal(team.status, 201);
  assert.equal(
    (
      await api(gov.app)
        .patch(`/api/v1/orgs/${org.id}/members/${member.id}`)
        .set(admin.auth)
        .send({ role: 'VIEWER' })
    ).status,
    200,
  );
  assert.equal(
    (await api(gov.app).delete(`/api/v1/orgs/${org.id}/members/${member.id}`).set(admin.auth)).status,
    204,
  );

  const log = await api(gov.app).get(`/api/v1/orgs/${org.id}/audit?limit=100`).set(owner.auth);
  assert.equal(log.status, 200);
  const entries = log.body.items as Array<{ seq: number; type: string; actorId: string; summary: string }>;
  assert.deepEqual(
    entries.map((e) => e.seq),
    entries.map((_, i) => i + 1),
  );
  const types = entries.map((e) => e.type);
  assert.equal(types[0], 'org.created');
  const tail = types.slice(types.indexOf('team.created'));
  assert.deepEqual(tail.slice(0, 1), ['team.created']);
  assert.ok(tail.includes('member.roleChanged') && tail.includes('member.removed'));
  assert.ok(
    tail.indexOf('member.roleChanged') < tail.indexOf('member.removed'),
    'in the order they happened',
  );
  const removal = entries.find((e) => e.type === 'member.removed');
  assert.equal(removal?.actorId, admin.id);

  const byType = await api(gov.app).get(`/api/v1/orgs/${org.id}/audit?type=member.removed`).set(owner.auth);
  assert.equal(byType.body.items.length, 1);

  const verify = await api(gov.app).get(`/api/v1/orgs/${org.id}/audit/verify`).set(owner.auth);
  assert.deepEqual(verify.body, { ok: true, checked: entries.length });
});

test('audit.read: ADMIN+ by default, 403 POLICY_DENIED below, 404 for outsiders', async () => {
  const { org, admin, manager } = await orgWithRoles(gov);
  assert.equal((await api(gov.app).get(`/api/v1/orgs/${org.id}/audit`).set(admin.auth)).status, 200);
  const denied = await api(gov.app).get(`/api/v1/orgs/${org.id}/audit`).set(manager.auth);
  assertProblem(denied, 403, 'POLICY_DENIED');
  assert.deepEqual(denied.body.policy, {
    scope: 'org',
    action: 'audit.read',
    requiredRole: 'ADMIN',
    yourRole: 'MANAGER',
  });
  const outsider = await newUser(gov, 'Oscar Outsider');
  await createOrg(gov, outsider);
  assertProblem(await api(gov.app).get(`/api/v1/orgs/${org.id}/audit`).set(outsider.auth), 404, 'NOT_FOUND');
  assertProblem(
    await api(gov.app).get(`/api/v1/orgs/${org.id}/audit/verify`).set(outsider.auth),
    404,
    'NOT_FOUND',
  );
  assertProblem(
    await api(gov.app).get(`/api/v1/orgs/${org.id}/audit?from=yesterday`).set(admin.auth),
    400,
    'VALIDATION_FAILED',
  );
});
