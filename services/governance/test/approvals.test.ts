import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  createEvent,
  workEvents,
  type EventConsumer,
  type RequireApproval,
  consumerOf,
} from '@trellis/shared';
import { assertProblem, waitFor, type TopicReader } from '@trellis/shared/testing';
import { CONSUMER_GROUP, governanceSubscriptions } from '../src/events/subscriptions.ts';
import {
  addMember,
  api,
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
let consumer: EventConsumer;

before(async () => {
  gov = await startGovernance();
  const { sequelize, bus } = gov.harness.runtime;
  await bus.ensureTopics(['work.project', 'identity.user']);
  consumer = await bus.consume(
    consumerOf(
      CONSUMER_GROUP,
      governanceSubscriptions({
        sequelize,
        directory: gov.services.directory,
        approvals: gov.services.approvals,
      }),
    ),
  );
  await consumer.ready;
  reader = await readTopics(gov, ['governance.approval', 'governance.membership', 'governance.mail']);
});

after(async () => {
  await reader.stop();
  await consumer.stop();
  await gov.close();
});

interface Approval {
  id: string;
  kind: string;
  state: string;
  requestedBy: string;
  payload: Record<string, unknown>;
  decidedBy: string | null;
  decision: string | null;
  reason: string | null;
}

const approvalsPath = (orgId: string, rest = '') => `/api/v1/orgs/${orgId}/approvals${rest}`;
const memberPath = (orgId: string, userId: string) => `/api/v1/orgs/${orgId}/members/${userId}`;

/** An org with roles, a second ADMIN, and the given approval flags on. */
async function governedOrg(flags: Partial<RequireApproval>, extra: Record<string, unknown> = {}) {
  const people = await orgWithRoles(gov);
  const admin2 = await newUser(gov, 'Ada Second');
  await addMember(gov, people.org.id, admin2, 'ADMIN', people.owner.id);
  const res = await api(gov.app)
    .patch(`/api/v1/orgs/${people.org.id}/settings`)
    .set(people.owner.auth)
    .send({ requireApproval: flags, ...extra });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return { ...people, admin2 };
}

const decide = (user: TestUser, orgId: string, id: string, how: 'approve' | 'reject' | 'cancel', body = {}) =>
  api(gov.app)
    .post(approvalsPath(orgId, `/${id}/${how}`))
    .set(user.auth)
    .send(body);

async function isMember(orgId: string, userId: string) {
  return (await gov.models.OrgMember.findOne({ where: { orgId, userId } })) !== null;
}

describe('removals with requireApproval.removals', () => {
  test('an ADMIN gets 202; not their own to approve; another ADMIN approves and the member is gone', async () => {
    const { org, admin, admin2, member, viewer } = await governedOrg({ removals: true });
    const res = await api(gov.app).delete(memberPath(org.id, member.id)).set(admin.auth);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const approval = res.body.approval as Approval;
    assert.equal(approval.kind, 'member.remove');
    assert.equal(approval.state, 'PENDING');
    assert.equal(approval.requestedBy, admin.id);
    assert.equal(approval.payload.userId, member.id);
    assert.equal(approval.decidedBy, null);
    assert.ok(await isMember(org.id, member.id), 'nothing happened yet');
    await waitForEvent(
      reader,
      'governance.approval',
      (e) => e.type === 'approval.requested' && e.subjectId === approval.id,
    );

    assertProblem(await decide(admin, org.id, approval.id, 'approve'), 403, 'FORBIDDEN');
    assertProblem(await decide(viewer, org.id, approval.id, 'approve'), 403, 'POLICY_DENIED');
    const approved = await decide(admin2, org.id, approval.id, 'approve', { comment: 'ok' });
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    assert.equal(approved.body.state, 'APPROVED');
    assert.equal(approved.body.decision, 'APPROVED');
    assert.equal(approved.body.decidedBy, admin2.id);
    assert.equal(approved.body.reason, 'ok');
    assert.equal(await isMember(org.id, member.id), false);
    const decided = await waitForEvent(
      reader,
      'governance.approval',
      (e) => e.type === 'approval.decided' && e.subjectId === approval.id,
    );
    assert.deepEqual(
      { ...decided.data },
      {
        approvalId: approval.id,
        orgId: org.id,
        kind: 'member.remove',
        requestedBy: admin.id,
        decidedBy: admin2.id,
        decision: 'APPROVED',
        reason: 'ok',
        payload: approval.payload,
      },
    );
    const removed = await waitForEvent(
      reader,
      'governance.membership',
      (e) => e.type === 'member.removed' && e.data.userId === member.id && e.orgId === org.id,
    );
    assert.equal(removed.actorId, admin.id, 'executed as the requester');
    assertProblem(await decide(admin2, org.id, approval.id, 'approve'), 409, 'CONFLICT');
  });

  test('rejected: nothing changes; the OWNER acts directly; leaving needs no approval', async () => {
    const { org, owner, admin, admin2, member, viewer } = await governedOrg({ removals: true });
    const res = await api(gov.app).delete(memberPath(org.id, member.id)).set(admin.auth);
    assert.equal(res.status, 202);
    const rejected = await decide(admin2, org.id, res.body.approval.id, 'reject', { reason: 'no' });
    assert.equal(rejected.status, 200, JSON.stringify(rejected.body));
    assert.equal(rejected.body.state, 'REJECTED');
    assert.equal(rejected.body.decision, 'REJECTED');
    assert.ok(await isMember(org.id, member.id));
    assertProblem(await decide(owner, org.id, res.body.approval.id, 'approve'), 409, 'CONFLICT');

    assert.equal((await api(gov.app).delete(memberPath(org.id, member.id)).set(owner.auth)).status, 204);
    assert.equal(await isMember(org.id, member.id), false);
    assert.equal((await api(gov.app).delete(memberPath(org.id, viewer.id)).set(viewer.auth)).status, 204);
    const count = await gov.models.Approval.count({ where: { orgId: org.id } });
    assert.equal(count, 1);
  });

  test('the requester may cancel, nobody else; a cancelled approval cannot be decided', async () => {
    const { org, admin, admin2, member } = await governedOrg({ removals: true });
    const res = await api(gov.app).delete(memberPath(org.id, member.id)).set(admin.auth);
    const id = res.body.approval.id as string;
    assertProblem(await decide(admin2, org.id, id, 'cancel'), 403, 'FORBIDDEN');
    const outsider = await newUser(gov, 'Mallory Outsider');
    assertProblem(await decide(outsider, org.id, id, 'cancel'), 404, 'NOT_FOUND');
    const cancelled = await decide(admin, org.id, id, 'cancel');
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
    assert.equal(cancelled.body.state, 'CANCELLED');
    assertProblem(await decide(admin2, org.id, id, 'approve'), 409, 'CONFLICT');
    assert.ok(await isMember(org.id, member.id));
    await waitForEvent(
      reader,
      'governance.approval',
      (e) => e.type === 'approval.cancelled' && e.subjectId === id,
    );
  });

  test('checks re-run on approve: a target already removed → FAILED, 409, the reason stored', async () => {
    const { org, owner, admin, admin2, member } = await governedOrg({ removals: true });
    const res = await api(gov.app).delete(memberPath(org.id, member.id)).set(admin.auth);
    await api(gov.app).delete(memberPath(org.id, member.id)).set(owner.auth).expect(204);
    const failed = await decide(admin2, org.id, res.body.approval.id, 'approve');
    assertProblem(failed, 409, 'CONFLICT');
    assert.match(String(failed.body.detail), /could not be carried out/);
    assert.equal(failed.body.approval.state, 'FAILED');
    const listed = await api(gov.app).get(approvalsPath(org.id)).query({ state: 'FAILED' }).set(admin2.auth);
    assert.deepEqual(
      listed.body.items.map((a: Approval) => [a.id, a.state, a.decidedBy]),
      [[res.body.approval.id, 'FAILED', admin2.id]],
    );
    assert.match(String(listed.body.items[0].reason), /member/);
    await waitForEvent(
      reader,
      'governance.approval',
      (e) =>
        e.type === 'approval.decided' && e.subjectId === res.body.approval.id && e.data.decision === 'FAILED',
    );
  });
});

test('role changes with approval: 202, then approved by another ADMIN', async () => {
  const { org, admin, admin2, member } = await governedOrg({ roleChanges: true });
  const res = await api(gov.app)
    .patch(memberPath(org.id, member.id))
    .set(admin.auth)
    .send({ role: 'MANAGER' });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  assert.deepEqual(res.body.approval.payload, { userId: member.id, role: 'MANAGER', from: 'MEMBER' });
  assert.equal(
    (await gov.models.OrgMember.findOne({ where: { orgId: org.id, userId: member.id } }))?.role,
    'MEMBER',
  );
  await decide(admin2, org.id, res.body.approval.id, 'approve').expect(200);
  assert.equal(
    (await gov.models.OrgMember.findOne({ where: { orgId: org.id, userId: member.id } }))?.role,
    'MANAGER',
  );
});

test('team creation with approval; members see only their own requests, deciders all', async () => {
  const { org, admin, admin2, member, owner } = await governedOrg(
    { teamCreation: true },
    { thresholds: { 'team.create': 'MEMBER' } },
  );
  const byAdmin = await api(gov.app)
    .post(`/api/v1/orgs/${org.id}/teams`)
    .set(admin.auth)
    .send({ name: 'Core' });
  assert.equal(byAdmin.status, 202, JSON.stringify(byAdmin.body));
  assert.equal(byAdmin.body.approval.kind, 'team.create');
  const byMember = await api(gov.app)
    .post(`/api/v1/orgs/${org.id}/teams`)
    .set(member.auth)
    .send({ name: 'Web' });
  assert.equal(byMember.status, 202);
  const direct = await api(gov.app)
    .post(`/api/v1/orgs/${org.id}/teams`)
    .set(owner.auth)
    .send({ name: 'Ops' });
  assert.equal(direct.status, 201, 'the OWNER is exempt');

  const mine = await api(gov.app).get(approvalsPath(org.id)).set(member.auth);
  assert.deepEqual(
    mine.body.items.map((a: Approval) => a.id),
    [byMember.body.approval.id],
  );
  const all = await api(gov.app).get(approvalsPath(org.id)).query({ state: 'PENDING' }).set(admin2.auth);
  assert.deepEqual(
    all.body.items.map((a: Approval) => a.id),
    [byAdmin.body.approval.id, byMember.body.approval.id],
  );

  const approved = await decide(admin2, org.id, byAdmin.body.approval.id, 'approve');
  assert.equal(approved.status, 200, JSON.stringify(approved.body));
  const teams = await api(gov.app).get(`/api/v1/orgs/${org.id}/teams`).set(admin.auth);
  const core = teams.body.items.find((t: { name: string }) => t.name === 'Core');
  assert.equal(core?.ownerId, admin.id, 'created as the requester');
});

test('invitations with approval: PENDING_APPROVAL without a mail, issued on approval; rejected ones never are', async () => {
  const { org, admin, admin2 } = await governedOrg({ invites: true });
  const grace = await newUser(gov, 'Grace Hopper');
  const res = await api(gov.app)
    .post(`/api/v1/orgs/${org.id}/invitations`)
    .set(admin.auth)
    .send({ email: grace.email, role: 'MEMBER' });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const { invitationId } = res.body.approval.payload as { invitationId: string };
  assert.equal(res.body.approval.kind, 'invitation.send');
  const pending = await api(gov.app)
    .get(`/api/v1/orgs/${org.id}/invitations/${invitationId}`)
    .set(admin.auth);
  assert.equal(pending.body.state, 'PENDING_APPROVAL');
  assert.equal(pending.body.expiresAt, null);
  // The address is taken while it waits.
  assertProblem(
    await api(gov.app)
      .post(`/api/v1/orgs/${org.id}/invitations`)
      .set(admin2.auth)
      .send({ email: grace.email, role: 'MEMBER' }),
    409,
    'CONFLICT',
  );

  await decide(admin2, org.id, res.body.approval.id, 'approve').expect(200);
  const mail = await waitForEvent(
    reader,
    'governance.mail',
    (e) => e.type === 'invitation.mailRequested' && e.data.invitationId === invitationId,
  );
  const issued = await api(gov.app).get(`/api/v1/orgs/${org.id}/invitations/${invitationId}`).set(admin.auth);
  assert.equal(issued.body.state, 'PENDING');
  const accepted = await api(gov.app)
    .post('/api/v1/invitations/accept')
    .set(grace.auth)
    .send({ token: mail.data.token });
  assert.deepEqual(accepted.body, { orgId: org.id, role: 'MEMBER' });

  const hal = await newUser(gov, 'Hal Rejected');
  const second = await api(gov.app)
    .post(`/api/v1/orgs/${org.id}/invitations`)
    .set(admin.auth)
    .send({ email: hal.email, role: 'VIEWER' });
  await decide(admin2, org.id, second.body.approval.id, 'reject').expect(200);
  const withdrawn = await gov.models.Invitation.findByPk(String(second.body.approval.payload.invitationId));
  assert.equal(withdrawn?.state, 'REVOKED');
  assert.equal(withdrawn?.tokenHash, null);
});

describe('join requests', () => {
  test('off → 403; on → 202 membership.join → approved → member with defaultMemberRole', async () => {
    const { org, owner, admin, member } = await orgWithRoles(gov);
    const stranger = await newUser(gov, 'Sam Stranger');
    const join = (user: TestUser, orgId = org.id) =>
      api(gov.app).post(`/api/v1/orgs/${orgId}/join-requests`).set(user.auth);
    assertProblem(await join(stranger), 403, 'FORBIDDEN');
    assertProblem(await join(stranger, randomUUID()), 404, 'NOT_FOUND');
    await api(gov.app)
      .patch(`/api/v1/orgs/${org.id}/settings`)
      .set(owner.auth)
      .send({ allowJoinRequests: true, defaultMemberRole: 'VIEWER' })
      .expect(200);

    const res = await join(stranger);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.approval.kind, 'membership.join');
    assert.equal(res.body.approval.requestedBy, stranger.id);
    assert.equal(res.body.approval.payload.email, stranger.email);
    assertProblem(await join(stranger), 409, 'CONFLICT');
    assertProblem(await join(member), 409, 'CONFLICT');
    assertProblem(await api(gov.app).get(approvalsPath(org.id)).set(stranger.auth), 404, 'NOT_FOUND');

    const approved = await decide(admin, org.id, res.body.approval.id, 'approve');
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    const row = await gov.models.OrgMember.findOne({ where: { orgId: org.id, userId: stranger.id } });
    assert.equal(row?.role, 'VIEWER');
    const added = await waitForEvent(
      reader,
      'governance.membership',
      (e) => e.type === 'member.added' && e.data.userId === stranger.id,
    );
    assert.equal(added.actorId, admin.id);

    // A join requester, not a member, may still cancel their own request.
    const other = await newUser(gov, 'Tess Other');
    const again = await join(other);
    const cancelled = await decide(other, org.id, again.body.approval.id, 'cancel');
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
    assert.equal(cancelled.body.state, 'CANCELLED');
  });
});

test('project.approvalRequested from work becomes one project.create approval; deciding it publishes approval.decided', async () => {
  const { org, manager, admin } = await orgWithRoles(gov);
  const projectId = randomUUID();
  const request = createEvent(workEvents.projectApprovalRequested, 'work', {
    orgId: org.id,
    actorId: manager.id,
    subjectId: projectId,
    data: { projectId, orgId: org.id, teamId: null, name: 'Apollo', key: 'APL', requestedBy: manager.id },
  });
  const publish = (event: typeof request) =>
    gov.harness.runtime.bus.publish([{ topic: 'work.project', event }]);
  await publish(request);
  await publish(request); // redelivery
  await publish({ ...request, id: randomUUID() }); // the same request again
  const approval = await waitFor(
    () => gov.models.Approval.findOne({ where: { orgId: org.id, kind: 'project.create' } }),
    { what: 'the project.create approval' },
  );
  assert.equal(approval.requestedBy, manager.id);
  assert.deepEqual(approval.payload, { projectId, teamId: null, name: 'Apollo', key: 'APL' });
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(await gov.models.Approval.count({ where: { orgId: org.id, kind: 'project.create' } }), 1);

  assertProblem(await decide(manager, org.id, approval.id, 'approve'), 403, 'POLICY_DENIED');
  await decide(admin, org.id, approval.id, 'approve').expect(200);
  const decided = await waitForEvent(
    reader,
    'governance.approval',
    (e) => e.type === 'approval.decided' && e.subjectId === approval.id,
  );
  assert.equal(decided.data.decision, 'APPROVED');
  assert.equal(decided.data.kind, 'project.create');
  assert.equal((decided.data.payload as { projectId: string }).projectId, projectId);
});
