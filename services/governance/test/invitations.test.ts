import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertProblem, type TopicReader } from '@trellis/shared/testing';
import {
  addMember,
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
  reader = await readTopics(gov, ['governance.mail', 'governance.invitation', 'governance.membership']);
});

after(async () => {
  await reader.stop();
  await gov.close();
});

const invitationsPath = (orgId: string, rest = '') => `/api/v1/orgs/${orgId}/invitations${rest}`;

async function invite(by: TestUser, orgId: string, email: string, role = 'MEMBER') {
  const res = await api(gov.app).post(invitationsPath(orgId)).set(by.auth).send({ email, role });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body as { id: string; email: string; role: string; state: string; expiresAt: string };
}

/** The token of the latest mail request for an invitation, as notify would read it. */
async function tokenOf(invitationId: string, not: string[] = []): Promise<string> {
  const mail = await waitForEvent(
    reader,
    'governance.mail',
    (e) =>
      e.type === 'invitation.mailRequested' &&
      e.data.invitationId === invitationId &&
      !not.includes(String(e.data.token)),
    'the invitation mail',
  );
  return String(mail.data.token);
}

const accept = (user: TestUser, token: string) =>
  api(gov.app).post('/api/v1/invitations/accept').set(user.auth).send({ token });

describe('the invitation journey', () => {
  test('invite → the mail carries the token → the addressee accepts and becomes a member with the role', async () => {
    const { org, owner, admin } = await orgWithRoles(gov);
    const grace = await newUser(gov, 'Grace Hopper');
    const res = await api(gov.app)
      .post(invitationsPath(org.id))
      .set(admin.auth)
      .send({ email: grace.email.toUpperCase(), role: 'MANAGER' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.headers.location, invitationsPath(org.id, `/${res.body.id}`));
    assert.deepEqual(Object.keys(res.body).sort(), [
      'createdAt',
      'email',
      'expiresAt',
      'id',
      'invitedBy',
      'orgId',
      'role',
      'state',
    ]);
    assert.equal(res.body.state, 'PENDING');
    assert.equal(res.body.invitedBy, admin.id);
    const days = (Date.parse(res.body.expiresAt) - Date.now()) / 86_400_000;
    assert.ok(days > 6.99 && days <= 7, `expires in ${days} days`);

    const token = await tokenOf(res.body.id);
    assert.ok(Buffer.from(token, 'base64url').length >= 32, 'at least 256 random bits');
    const mail = envelopes(reader, 'governance.mail').find((e) => e.data.invitationId === res.body.id);
    assert.equal(mail?.data.to, grace.email.toUpperCase());
    assert.equal(mail?.data.orgName, org.name);
    assert.equal(mail?.data.inviterName, 'Adam Admin');
    assert.equal(mail?.data.role, 'MANAGER');
    const created = await waitForEvent(
      reader,
      'governance.invitation',
      (e) => e.type === 'invitation.created' && e.subjectId === res.body.id,
    );
    assert.equal(created.orgId, org.id);
    assert.equal(created.actorId, admin.id);
    assert.ok(!('token' in created.data));
    assert.ok(!JSON.stringify(created).includes(token), 'invitation.created never carries the token');
    assert.ok(!JSON.stringify(res.body).includes(token));
    const stored = await gov.models.Invitation.findByPk(res.body.id);
    assert.notEqual(stored?.tokenHash, token, 'only the hash is stored');

    const mine = await api(gov.app).get('/api/v1/invitations/mine').set(grace.auth);
    assert.equal(mine.status, 200);
    assert.deepEqual(
      mine.body.items.map((i: { id: string; orgName: string }) => [i.id, i.orgName]),
      [[res.body.id, org.name]],
    );
    const ownerMine = await api(gov.app).get('/api/v1/invitations/mine').set(owner.auth);
    assert.deepEqual(ownerMine.body.items, []);

    const accepted = await accept(grace, token);
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    assert.deepEqual(accepted.body, { orgId: org.id, role: 'MANAGER' });
    const members = await api(gov.app).get(`/api/v1/orgs/${org.id}/members`).set(grace.auth);
    assert.equal(members.body.items.find((m: { userId: string }) => m.userId === grace.id)?.role, 'MANAGER');
    await waitForEvent(
      reader,
      'governance.invitation',
      (e) => e.type === 'invitation.accepted' && e.subjectId === res.body.id && e.actorId === grace.id,
    );
    await waitForEvent(
      reader,
      'governance.membership',
      (e) => e.type === 'member.added' && e.data.userId === grace.id && e.data.orgId === org.id,
    );

    assertProblem(await accept(grace, token), 409, 'CONFLICT');
    const after = await api(gov.app).get('/api/v1/invitations/mine').set(grace.auth);
    assert.deepEqual(after.body.items, []);
    const listed = await api(gov.app)
      .get(invitationsPath(org.id))
      .query({ state: 'ACCEPTED' })
      .set(admin.auth);
    assert.deepEqual(
      listed.body.items.map((i: { id: string }) => i.id),
      [res.body.id],
    );
  });

  test('the token is useless to anyone signed in with another e-mail (403), and unknown tokens are 404', async () => {
    const { org, admin, member } = await orgWithRoles(gov);
    const grace = await newUser(gov, 'Grace Hopper');
    const outsider = await newUser(gov, 'Mallory Outsider');
    const invitation = await invite(admin, org.id, grace.email);
    const token = await tokenOf(invitation.id);
    assertProblem(await accept(outsider, token), 403, 'FORBIDDEN');
    assertProblem(await accept(member, token), 403, 'FORBIDDEN');
    assertProblem(
      await api(gov.app).post('/api/v1/invitations/decline').set(outsider.auth).send({ token }),
      403,
      'FORBIDDEN',
    );
    assertProblem(await accept(grace, `${token.slice(0, -4)}AAAA`), 404, 'NOT_FOUND');
    assert.equal((await accept(grace, token)).status, 200);
  });

  test('expired (computed on read, then swept), revoked and declined tokens are refused with 409', async () => {
    const { org, admin } = await orgWithRoles(gov);
    const ann = await newUser(gov, 'Ann Expired');
    const bob = await newUser(gov, 'Bob Revoked');
    const cyd = await newUser(gov, 'Cyd Declined');
    const dan = await newUser(gov, 'Dan Swept');
    const expired = await invite(admin, org.id, ann.email);
    const revoked = await invite(admin, org.id, bob.email);
    const declined = await invite(admin, org.id, cyd.email);
    const swept = await invite(admin, org.id, dan.email);
    const [annToken, bobToken, cydToken] = await Promise.all([
      tokenOf(expired.id),
      tokenOf(revoked.id),
      tokenOf(declined.id),
    ]);

    await gov.harness.runtime.sequelize.query(
      `UPDATE invitations SET expires_at = now() - interval '1 minute' WHERE id IN (:ids)`,
      { replacements: { ids: [expired.id, swept.id] } },
    );
    const got = await api(gov.app)
      .get(invitationsPath(org.id, `/${expired.id}`))
      .set(admin.auth);
    assert.equal(got.body.state, 'EXPIRED');
    const listed = await api(gov.app)
      .get(invitationsPath(org.id))
      .query({ state: 'EXPIRED' })
      .set(admin.auth);
    assert.deepEqual(
      listed.body.items.map((i: { id: string }) => i.id).sort(),
      [expired.id, swept.id].sort(),
    );
    assert.deepEqual((await api(gov.app).get('/api/v1/invitations/mine').set(ann.auth)).body.items, []);
    const late = await accept(ann, annToken);
    assertProblem(late, 409, 'CONFLICT');
    assert.match(String(late.body.detail), /expired/);

    const revokedRes = await api(gov.app)
      .post(invitationsPath(org.id, `/${revoked.id}/revoke`))
      .set(admin.auth);
    assert.equal(revokedRes.status, 200, JSON.stringify(revokedRes.body));
    assert.equal(revokedRes.body.state, 'REVOKED');
    const refused = await accept(bob, bobToken);
    assertProblem(refused, 409, 'CONFLICT');
    assert.match(String(refused.body.detail), /revoked/);
    assertProblem(
      await api(gov.app)
        .post(invitationsPath(org.id, `/${revoked.id}/revoke`))
        .set(admin.auth),
      409,
      'CONFLICT',
    );

    const declinedRes = await api(gov.app)
      .post('/api/v1/invitations/decline')
      .set(cyd.auth)
      .send({ token: cydToken });
    assert.equal(declinedRes.status, 204);
    assertProblem(await accept(cyd, cydToken), 409, 'CONFLICT');
    await waitForEvent(
      reader,
      'governance.invitation',
      (e) => e.type === 'invitation.declined' && e.subjectId === declined.id,
    );

    // The sweep writes down what reads already said, once.
    assert.ok((await gov.services.invitationSweep.expireDue()) >= 2);
    assert.equal((await gov.models.Invitation.findByPk(swept.id))?.state, 'EXPIRED');
    assert.equal(await gov.services.invitationSweep.expireDue(), 0);
    await waitForEvent(
      reader,
      'governance.invitation',
      (e) => e.type === 'invitation.expired' && e.subjectId === swept.id,
    );
    // An expired invitation frees the address: inviting again works.
    await invite(admin, org.id, ann.email);
  });

  test('resend: a new token and expiry, a new mail; the old token is dead', async () => {
    const { org, admin } = await orgWithRoles(gov);
    const grace = await newUser(gov, 'Grace Hopper');
    const invitation = await invite(admin, org.id, grace.email);
    const oldToken = await tokenOf(invitation.id);
    await gov.harness.runtime.sequelize.query(
      `UPDATE invitations SET expires_at = now() - interval '1 day' WHERE id = :id`,
      { replacements: { id: invitation.id } },
    );
    const resent = await api(gov.app)
      .post(invitationsPath(org.id, `/${invitation.id}/resend`))
      .set(admin.auth);
    assert.equal(resent.status, 200, JSON.stringify(resent.body));
    assert.equal(resent.body.state, 'PENDING');
    assert.ok(Date.parse(resent.body.expiresAt) > Date.now() + 6 * 86_400_000);
    const newToken = await tokenOf(invitation.id, [oldToken]);
    assert.notEqual(newToken, oldToken);
    await waitForEvent(
      reader,
      'governance.invitation',
      (e) =>
        e.type === 'invitation.resent' &&
        e.subjectId === invitation.id &&
        !JSON.stringify(e).includes(newToken),
    );
    assertProblem(await accept(grace, oldToken), 404, 'NOT_FOUND');
    assert.equal((await accept(grace, newToken)).status, 200);
    assertProblem(
      await api(gov.app)
        .post(invitationsPath(org.id, `/${invitation.id}/resend`))
        .set(admin.auth),
      409,
      'CONFLICT',
    );
  });
});

describe('who may invite whom', () => {
  test('409 for a member’s address or a live invitation (case-insensitive)', async () => {
    const { org, admin, member } = await orgWithRoles(gov);
    assertProblem(
      await api(gov.app)
        .post(invitationsPath(org.id))
        .set(admin.auth)
        .send({ email: member.email.toUpperCase(), role: 'VIEWER' }),
      409,
      'CONFLICT',
    );
    const grace = await newUser(gov, 'Grace Hopper');
    await invite(admin, org.id, grace.email);
    assertProblem(
      await api(gov.app)
        .post(invitationsPath(org.id))
        .set(admin.auth)
        .send({ email: ` ${grace.email.toUpperCase()} `, role: 'VIEWER' }),
      409,
      'CONFLICT',
    );
  });

  test('policy member.invite, a role below your own, never OWNER; outsiders get 404', async () => {
    const { org, admin, manager, member } = await orgWithRoles(gov);
    const outsider = await newUser(gov, 'Mallory Outsider');
    const body = { email: 'someone@example.com', role: 'VIEWER' };
    const denied = await api(gov.app).post(invitationsPath(org.id)).set(manager.auth).send(body);
    assertProblem(denied, 403, 'POLICY_DENIED');
    assert.deepEqual(denied.body.policy, {
      scope: 'org',
      action: 'member.invite',
      requiredRole: 'ADMIN',
      yourRole: 'MANAGER',
    });
    assertProblem(await api(gov.app).get(invitationsPath(org.id)).set(member.auth), 403, 'POLICY_DENIED');
    assertProblem(
      await api(gov.app)
        .post(invitationsPath(org.id))
        .set(admin.auth)
        .send({ ...body, role: 'ADMIN' }),
      403,
      'FORBIDDEN',
    );
    assertProblem(
      await api(gov.app)
        .post(invitationsPath(org.id))
        .set(admin.auth)
        .send({ ...body, role: 'OWNER' }),
      400,
      'VALIDATION_FAILED',
    );
    assertProblem(
      await api(gov.app).post(invitationsPath(org.id)).set(outsider.auth).send(body),
      404,
      'NOT_FOUND',
    );
    assertProblem(await api(gov.app).get(invitationsPath(org.id)).set(outsider.auth), 404, 'NOT_FOUND');
  });
});

test('the member limit is checked at accept (FREE: 50)', async () => {
  const owner = await newUser(gov, 'Olive Owner');
  const org = await createOrg(gov, owner);
  const grace = await newUser(gov, 'Grace Hopper');
  const invitation = await invite(owner, org.id, grace.email);
  const token = await tokenOf(invitation.id);
  for (let i = 0; i < 49; i += 1)
    await addMember(gov, org.id, await newUser(gov, `Filler ${i}`), 'VIEWER', owner.id);
  const full = await accept(grace, token);
  assertProblem(full, 409, 'LIMIT_REACHED');
  assert.deepEqual(full.body.limit, { plan: 'FREE', resource: 'members', max: 50 });
  assert.equal((await gov.models.Invitation.findByPk(invitation.id))?.state, 'PENDING');
  await api(gov.app)
    .patch(`/api/v1/orgs/${org.id}/settings`)
    .set(owner.auth)
    .send({ plan: 'PRO' })
    .expect(200);
  assert.equal((await accept(grace, token)).status, 200);
});
