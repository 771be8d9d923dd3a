import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertProblem, type TopicReader } from '@trellis/shared/testing';
import {
  addMember,
  api,
  createOrg,
  newUser,
  orgWithRoles,
  readTopics,
  startGovernance,
  waitForEvent,
  type Governance,
} from './helpers.ts';

let gov: Governance;
let reader: TopicReader;

before(async () => {
  gov = await startGovernance();
  reader = await readTopics(gov, ['governance.membership', 'governance.team']);
});

after(async () => {
  await reader.stop();
  await gov.close();
});

const membersPath = (orgId: string, userId?: string) =>
  `/api/v1/orgs/${orgId}/members${userId ? `/${userId}` : ''}`;

describe('listing members', () => {
  test('names and e-mails from the directory; filter by role and by q (case-insensitive); cursor pages', async () => {
    const { org, owner, admin, manager, member, viewer } = await orgWithRoles(gov);
    const all = await api(gov.app).get(membersPath(org.id)).set(viewer.auth);
    assert.equal(all.status, 200, JSON.stringify(all.body));
    assert.deepEqual(
      all.body.items.map((m: { userId: string }) => m.userId),
      [owner.id, admin.id, manager.id, member.id, viewer.id],
    );
    assert.deepEqual(Object.keys(all.body.items[0]).sort(), ['email', 'joinedAt', 'name', 'role', 'userId']);
    assert.equal(all.body.nextCursor, null);

    const admins = await api(gov.app).get(membersPath(org.id)).query({ role: 'ADMIN' }).set(viewer.auth);
    assert.deepEqual(
      admins.body.items.map((m: { name: string }) => m.name),
      ['Adam Admin'],
    );
    const byName = await api(gov.app).get(membersPath(org.id)).query({ q: 'mONA' }).set(viewer.auth);
    assert.deepEqual(
      byName.body.items.map((m: { userId: string }) => m.userId),
      [manager.id],
    );
    const byEmail = await api(gov.app)
      .get(membersPath(org.id))
      .query({ q: member.email.toUpperCase() })
      .set(viewer.auth);
    assert.deepEqual(
      byEmail.body.items.map((m: { userId: string }) => m.userId),
      [member.id],
    );
    const wildcard = await api(gov.app).get(membersPath(org.id)).query({ q: '%' }).set(viewer.auth);
    assert.deepEqual(wildcard.body.items, []);

    const first = await api(gov.app).get(membersPath(org.id)).query({ limit: 3 }).set(viewer.auth);
    assert.equal(first.body.items.length, 3);
    const second = await api(gov.app)
      .get(membersPath(org.id))
      .query({ limit: 3, cursor: first.body.nextCursor })
      .set(viewer.auth);
    assert.deepEqual(
      second.body.items.map((m: { userId: string }) => m.userId),
      [member.id, viewer.id],
    );
    assert.equal(second.body.nextCursor, null);

    const bad = await api(gov.app)
      .get(membersPath(org.id))
      .query({ role: 'KING', limit: 500 })
      .set(viewer.auth);
    assertProblem(bad, 400, 'VALIDATION_FAILED');
    assert.deepEqual(bad.body.errors.map((e: { path: string }) => e.path).sort(), [
      'query.limit',
      'query.role',
    ]);
  });
});

describe('changing roles', () => {
  test('ADMIN promotes a MEMBER to MANAGER; member.roleChanged carries orgId and actorId', async () => {
    const { org, admin, member } = await orgWithRoles(gov);
    const res = await api(gov.app)
      .patch(membersPath(org.id, member.id))
      .set(admin.auth)
      .send({ role: 'MANAGER' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.role, 'MANAGER');
    assert.equal(res.body.name, member.name);
    const event = await waitForEvent(
      reader,
      'governance.membership',
      (e) => e.type === 'member.roleChanged' && e.orgId === org.id,
    );
    assert.equal(event.actorId, admin.id);
    assert.deepEqual(event.data, { orgId: org.id, userId: member.id, from: 'MEMBER', to: 'MANAGER' });
  });

  test('the rules: policy first, then outrank the target, stay below your own role, the owner is immune', async () => {
    const { org, owner, admin, manager, member, viewer } = await orgWithRoles(gov);
    const other = await newUser(gov, 'Ann Other');
    await addMember(gov, org.id, other, 'ADMIN', owner.id);
    const patch = (actor: { auth: { Authorization: string } }, userId: string, role: string) =>
      api(gov.app).patch(membersPath(org.id, userId)).set(actor.auth).send({ role });

    const denied = await patch(manager, viewer.id, 'MEMBER');
    assertProblem(denied, 403, 'POLICY_DENIED');
    assert.deepEqual(denied.body.policy, {
      scope: 'org',
      action: 'member.updateRole',
      requiredRole: 'ADMIN',
      yourRole: 'MANAGER',
    });
    assertProblem(await patch(admin, other.id, 'MEMBER'), 403, 'FORBIDDEN'); // does not outrank a peer
    assertProblem(await patch(admin, member.id, 'ADMIN'), 403, 'FORBIDDEN'); // not below own role
    assertProblem(await patch(admin, owner.id, 'MEMBER'), 409, 'OWNER_MUST_TRANSFER');
    assertProblem(await patch(owner, member.id, 'OWNER'), 422, 'VALIDATION_FAILED');
    assertProblem(await patch(admin, member.id, 'KING'), 400, 'VALIDATION_FAILED');
    assert.equal((await patch(owner, other.id, 'VIEWER')).status, 200); // the owner may give any role below OWNER
    assertProblem(await patch(owner, (await newUser(gov)).id, 'MEMBER'), 404, 'NOT_FOUND');
  });

  test('a raised threshold is enforced: member.updateRole at OWNER denies an ADMIN', async () => {
    const { org, owner, admin, member } = await orgWithRoles(gov);
    const set = await api(gov.app)
      .patch(`/api/v1/orgs/${org.id}/settings`)
      .set(owner.auth)
      .send({ thresholds: { 'member.updateRole': 'OWNER' } });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    const res = await api(gov.app)
      .patch(membersPath(org.id, member.id))
      .set(admin.auth)
      .send({ role: 'VIEWER' });
    assertProblem(res, 403, 'POLICY_DENIED');
    assert.equal(res.body.policy.requiredRole, 'OWNER');
  });
});

describe('removing members and leaving', () => {
  test('removal: policy, outrank; the owner cannot be removed; a member leaves; allowSelfRemoval off forbids it', async () => {
    const { org, owner, admin, manager, member, viewer } = await orgWithRoles(gov);
    const remove = (actor: { auth: { Authorization: string } }, userId: string) =>
      api(gov.app).delete(membersPath(org.id, userId)).set(actor.auth);

    assertProblem(await remove(manager, viewer.id), 403, 'POLICY_DENIED');
    assertProblem(await remove(admin, owner.id), 409, 'OWNER_MUST_TRANSFER');
    assert.equal((await remove(admin, manager.id)).status, 204);
    assertProblem(await remove(manager, manager.id), 404, 'NOT_FOUND'); // gone: the org is invisible to them
    assert.equal((await remove(viewer, viewer.id)).status, 204); // leaving

    const off = await api(gov.app)
      .patch(`/api/v1/orgs/${org.id}/settings`)
      .set(admin.auth)
      .send({ allowSelfRemoval: false });
    assert.equal(off.status, 200, JSON.stringify(off.body));
    assertProblem(await remove(member, member.id), 403, 'FORBIDDEN');
    assert.equal((await remove(admin, member.id)).status, 204); // removal by someone else still works

    const removed = await waitForEvent(
      reader,
      'governance.membership',
      (e) => e.type === 'member.removed' && e.orgId === org.id && e.data.userId === viewer.id,
    );
    assert.deepEqual(removed.data, { orgId: org.id, userId: viewer.id, reason: 'left' });
    assert.equal(removed.actorId, viewer.id);
  });

  test('removing an org member removes their team memberships in the same transaction', async () => {
    const { org, owner, admin, member } = await orgWithRoles(gov);
    const team = await api(gov.app)
      .post(`/api/v1/orgs/${org.id}/teams`)
      .set(owner.auth)
      .send({ name: 'Core' });
    assert.equal(team.status, 201, JSON.stringify(team.body));
    const added = await api(gov.app)
      .post(`/api/v1/teams/${team.body.id}/members`)
      .set(owner.auth)
      .send({ userId: member.id, role: 'LEAD' });
    assert.equal(added.status, 201, JSON.stringify(added.body));

    assert.equal((await api(gov.app).delete(membersPath(org.id, member.id)).set(admin.auth)).status, 204);
    const teamMembers = await api(gov.app).get(`/api/v1/teams/${team.body.id}/members`).set(owner.auth);
    assert.deepEqual(
      teamMembers.body.items.map((m: { userId: string }) => m.userId),
      [owner.id],
    );
    assert.equal(await gov.models.TeamMember.count({ where: { userId: member.id } }), 0);
    const event = await waitForEvent(
      reader,
      'governance.team',
      (e) => e.type === 'team.memberRemoved' && e.data.userId === member.id,
    );
    assert.deepEqual(event.data, {
      orgId: org.id,
      teamId: team.body.id,
      userId: member.id,
      reason: 'org_removed',
    });
    assert.equal(event.actorId, admin.id);
  });

  test('a team owner must hand the team on before leaving the org', async () => {
    const { org, owner, admin } = await orgWithRoles(gov);
    const team = await api(gov.app)
      .post(`/api/v1/orgs/${org.id}/teams`)
      .set(admin.auth)
      .send({ name: 'Ops' });
    assert.equal(team.status, 201);
    assertProblem(
      await api(gov.app).delete(membersPath(org.id, admin.id)).set(admin.auth),
      409,
      'OWNER_MUST_TRANSFER',
    );
    const handed = await api(gov.app)
      .post(`/api/v1/teams/${team.body.id}/members`)
      .set(admin.auth)
      .send({ userId: owner.id, role: 'MANAGER' });
    assert.equal(handed.status, 201, JSON.stringify(handed.body));
    const moved = await api(gov.app)
      .post(`/api/v1/teams/${team.body.id}/transfer-ownership`)
      .set(admin.auth)
      .send({ userId: owner.id });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    assert.equal((await api(gov.app).delete(membersPath(org.id, admin.id)).set(admin.auth)).status, 204);
  });
});

describe('plan limits', () => {
  test('the member limit of the FREE plan is 409 LIMIT_REACHED naming the limit', async () => {
    const owner = await newUser(gov);
    const org = await createOrg(gov, owner);
    // 49 more members bring the org to the FREE plan's 50.
    await gov.harness.runtime.sequelize.query(
      `INSERT INTO org_members (org_id, user_id, role) SELECT :orgId, gen_random_uuid(), 'MEMBER' FROM generate_series(1, 49)`,
      { replacements: { orgId: org.id } },
    );
    const extra = await newUser(gov);
    await assert.rejects(
      addMember(gov, org.id, extra, 'MEMBER', owner.id),
      (err: Error & { code?: string; extensions?: unknown }) => {
        assert.equal(err.code, 'LIMIT_REACHED');
        assert.deepEqual(err.extensions, { limit: { plan: 'FREE', resource: 'members', max: 50 } });
        return true;
      },
    );
    const pro = await api(gov.app)
      .patch(`/api/v1/orgs/${org.id}/settings`)
      .set(owner.auth)
      .send({ plan: 'PRO' });
    assert.equal(pro.status, 200);
    await addMember(gov, org.id, extra, 'MEMBER', owner.id);
  });
});
