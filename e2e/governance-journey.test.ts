import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { waitFor } from '@trellis/shared/testing';
import { pages, TrellisProblem, unwrap } from '../clients/typescript/src/index.ts';
import { apiClient, assertProblem, type ApiClient } from './support/client.ts';
import { clientOf, invitationToken, join, person, type Person } from './support/people.ts';
import { startSuite, type Suite } from './support/suite.ts';

interface Org {
  id: string;
  name: string;
  slug: string;
  ownerId: string;
  myRole: string;
}

describe('governance through the gateway', () => {
  let suite: Suite;
  let api: ApiClient;
  let owner: Person, admin: Person, admin2: Person, member: Person, outsider: Person;
  let org: Org;
  let foreignOrg: Org;

  // Orgs are created, and the org lists read, through @trellis/client as an integrator would; the
  // checks of exact answers (problems, headers) through the plain client.
  const createOrg = async (who: Person, name: string): Promise<Org> =>
    unwrap(clientOf(api, who).api.POST('/api/v1/orgs', { body: { name } }));
  const orgsOf = async (who: Person) => {
    const all = [];
    for await (const o of pages((cursor) =>
      unwrap(clientOf(api, who).api.GET('/api/v1/orgs', { params: { query: { cursor } } })),
    ))
      all.push(o);
    return all;
  };

  before(async () => {
    suite = await startSuite();
    api = apiClient(suite.gatewayUrl);
    [owner, admin, admin2, member, outsider] = (await Promise.all(
      ['Olive Owner', 'Adam Admin', 'Ada Second', 'Max Member', 'Oscar Outsider'].map((n) => person(api, n)),
    )) as [Person, Person, Person, Person, Person];
    org = await createOrg(owner, `Acme ${randomUUID().slice(0, 6)}`);
    foreignOrg = await createOrg(outsider, `Elsewhere ${randomUUID().slice(0, 6)}`);
  });

  after(() => suite?.close());

  test("the seeds' checks: creator is OWNER, a MEMBER cannot create a team, users see only their orgs", async () => {
    assert.equal(org.myRole, 'OWNER');
    assert.equal(org.ownerId, owner.id);
    await join(api, org.id, owner, admin, 'ADMIN');
    await join(api, org.id, owner, admin2, 'ADMIN');
    await join(api, org.id, admin, member, 'MEMBER');

    const denied = await unwrap(
      clientOf(api, member).api.POST('/api/v1/orgs/{orgId}/teams', {
        params: { path: { orgId: org.id } },
        body: { name: 'Skunkworks' },
      }),
    ).catch((error: unknown) => error);
    assert.ok(denied instanceof TrellisProblem, String(denied));
    assert.equal(denied.code, 'POLICY_DENIED');
    assert.deepEqual(denied.policy, {
      scope: 'org',
      action: 'team.create',
      requiredRole: 'ADMIN',
      yourRole: 'MEMBER',
    });
    const raw = await api.post(`/orgs/${org.id}/teams`, { name: 'Skunkworks' }, member.token);
    assertProblem(raw, 403, 'POLICY_DENIED');

    assert.deepEqual(
      (await orgsOf(member)).map((o) => [o.id, o.myRole]),
      [[org.id, 'MEMBER']],
    );
    assert.deepEqual(
      (await orgsOf(outsider)).map((o) => o.id),
      [foreignOrg.id],
    );
  });

  test('members are listed with names from the identity directory', async () => {
    const list = await waitFor(
      async () => {
        const res = await api.get<{ items: Array<{ userId: string; name: string; role: string }> }>(
          `/orgs/${org.id}/members`,
          owner.token,
        );
        return res.body.items.length === 4 && res.body.items.every((m) => m.name)
          ? res.body.items
          : undefined;
      },
      { what: 'four named members' },
    );
    const byId = Object.fromEntries(list.map((m) => [m.userId, [m.name, m.role]]));
    assert.deepEqual(byId[member.id], ['Max Member', 'MEMBER']);
    assert.deepEqual(byId[owner.id], ['Olive Owner', 'OWNER']);
  });

  test('invitations: the wrong user, a revoked and a reused token are refused', async () => {
    const invitee = await person(api, 'Ivy Invitee');
    const stranger = await person(api, 'Sam Stranger');
    const invited = await api.post<{ id: string; state: string }>(
      `/orgs/${org.id}/invitations`,
      { email: invitee.email.toUpperCase(), role: 'VIEWER' },
      admin.token,
    );
    assert.equal(invited.status, 201);
    assert.equal(invited.body.state, 'PENDING');
    assert.equal(
      JSON.stringify(invited.body).includes('token'),
      false,
      'the token is never in an API answer',
    );
    const token = await invitationToken(invitee.email);

    const wrongUser = await api.post('/invitations/accept', { token }, stranger.token);
    assert.ok([403, 404].includes(wrongUser.status), `wrong e-mail → ${wrongUser.status}`);
    assert.equal((await api.post('/invitations/accept', { token }, invitee.token)).status, 200);
    const reused = await api.post('/invitations/accept', { token }, invitee.token);
    assert.ok(reused.status >= 400 && reused.status < 500, `reused → ${reused.status}`);
    assertProblem(
      await api.post(`/orgs/${org.id}/invitations`, { email: invitee.email, role: 'MEMBER' }, admin.token),
      409,
      'CONFLICT',
    );

    const other = await person(api, 'Rita Revoked');
    const second = await api.post<{ id: string }>(
      `/orgs/${org.id}/invitations`,
      { email: other.email, role: 'MEMBER' },
      admin.token,
    );
    const revokedToken = await invitationToken(other.email);
    assert.equal(
      (await api.post(`/orgs/${org.id}/invitations/${second.body.id}/revoke`, undefined, admin.token)).status,
      200,
    );
    const revoked = await api.post('/invitations/accept', { token: revokedToken }, other.token);
    assert.ok(revoked.status >= 400 && revoked.status < 500, `revoked → ${revoked.status}`);
    const orgsOfOther = await api.get<{ items: Org[] }>('/orgs', other.token);
    assert.deepEqual(orgsOfOther.body.items, []);
  });

  test('policy: member.invite raised to OWNER denies an ADMIN; a threshold outside its range is 422', async () => {
    const raised = await api.patch(
      `/orgs/${org.id}/settings`,
      { thresholds: { 'member.invite': 'OWNER' } },
      owner.token,
    );
    assert.equal(raised.status, 200, JSON.stringify(raised.body));
    const denied = await api.post(
      `/orgs/${org.id}/invitations`,
      { email: `x-${randomUUID()}@example.test`, role: 'MEMBER' },
      admin.token,
    );
    assertProblem(denied, 403, 'POLICY_DENIED');
    assert.deepEqual(denied.body.policy, {
      scope: 'org',
      action: 'member.invite',
      requiredRole: 'OWNER',
      yourRole: 'ADMIN',
    });
    const outOfRange = await api.patch(
      `/orgs/${org.id}/settings`,
      { thresholds: { 'member.invite': 'VIEWER' } },
      owner.token,
    );
    assertProblem(outOfRange, 422, 'VALIDATION_FAILED');
    assert.match(JSON.stringify(outOfRange.body.errors), /MANAGER.*OWNER/);
    assert.equal(
      (await api.patch(`/orgs/${org.id}/settings`, { thresholds: { 'member.invite': null } }, owner.token))
        .status,
      200,
    );
  });

  test('approvals: four eyes on removals; reject changes nothing; approve executes', async () => {
    const on = await api.patch(
      `/orgs/${org.id}/settings`,
      { requireApproval: { removals: true } },
      owner.token,
    );
    assert.equal(on.status, 200, JSON.stringify(on.body));

    const requested = await api.delete<{ approval: { id: string; state: string; kind: string } }>(
      `/orgs/${org.id}/members/${member.id}`,
      admin.token,
    );
    assert.equal(requested.status, 202, JSON.stringify(requested.body));
    assert.equal(requested.body.approval.kind, 'member.remove');
    assert.equal(requested.body.approval.state, 'PENDING');
    const approvalId = requested.body.approval.id;

    assertProblem(
      await api.post(`/orgs/${org.id}/approvals/${approvalId}/approve`, {}, admin.token),
      403,
      'FORBIDDEN',
    );
    const rejected = await api.post(
      `/orgs/${org.id}/approvals/${approvalId}/reject`,
      { reason: 'not now' },
      admin2.token,
    );
    assert.equal(rejected.status, 200, JSON.stringify(rejected.body));
    const stillThere = await api.get<{ items: Array<{ userId: string }> }>(
      `/orgs/${org.id}/members`,
      owner.token,
    );
    assert.ok(
      stillThere.body.items.some((m) => m.userId === member.id),
      'a rejected removal leaves the member',
    );

    const again = await api.delete<{ approval: { id: string } }>(
      `/orgs/${org.id}/members/${member.id}`,
      admin.token,
    );
    assert.equal(again.status, 202);
    const approved = await api.post(
      `/orgs/${org.id}/approvals/${again.body.approval.id}/approve`,
      {},
      admin2.token,
    );
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    const after = await api.get<{ items: Array<{ userId: string }> }>(`/orgs/${org.id}/members`, owner.token);
    assert.equal(
      after.body.items.some((m) => m.userId === member.id),
      false,
      'the approved removal happened',
    );
    assertProblem(await api.get(`/orgs/${org.id}`, member.token), 404, 'NOT_FOUND');

    assert.equal(
      (await api.patch(`/orgs/${org.id}/settings`, { requireApproval: { removals: false } }, owner.token))
        .status,
      200,
    );
  });

  test('ownership transfer: the owner cannot leave first; afterwards old owner ADMIN, new owner OWNER', async () => {
    assertProblem(
      await api.delete(`/orgs/${org.id}/members/${owner.id}`, owner.token),
      409,
      'OWNER_MUST_TRANSFER',
    );
    const transferred = await api.post(
      `/orgs/${org.id}/transfer-ownership`,
      { userId: admin.id },
      owner.token,
    );
    assert.equal(transferred.status, 200, JSON.stringify(transferred.body));
    const seenByOld = await api.get<Org>(`/orgs/${org.id}`, owner.token);
    assert.equal(seenByOld.body.myRole, 'ADMIN');
    const seenByNew = await api.get<Org>(`/orgs/${org.id}`, admin.token);
    assert.equal(seenByNew.body.myRole, 'OWNER');
    assert.equal(seenByNew.body.ownerId, admin.id);
  });

  test('audit: everything above is in the log in order, verify is ok, and a tampered entry is reported', async () => {
    const log = await api.get<{ items: Array<{ seq: number; type: string; actorId: string | null }> }>(
      `/orgs/${org.id}/audit?limit=100`,
      admin.token,
    );
    assert.equal(log.status, 200);
    const entries = log.body.items;
    assert.deepEqual(
      entries.map((e) => e.seq),
      entries.map((_, i) => i + 1),
    );
    const types = entries.map((e) => e.type);
    const order = [
      'org.created',
      'member.added',
      'invitation.created',
      'invitation.accepted',
      'org.settingsChanged',
      'approval.requested',
      'approval.decided',
      'member.removed',
      'org.ownershipTransferred',
    ];
    let cursor = -1;
    for (const type of order) {
      const at = types.indexOf(type, cursor + 1);
      assert.ok(at > cursor, `${type} appears after the previous step (types: ${types.join(', ')})`);
      cursor = at;
    }
    assert.doesNotMatch(
      JSON.stringify(entries),
      /token=|"token":"[A-Za-z0-9_-]{20,}"/,
      'no invitation token in the log',
    );
    const verified = await api.get(`/orgs/${org.id}/audit/verify`, admin.token);
    assert.deepEqual(verified.body, { ok: true, checked: entries.length });

    const db = new pg.Client({ connectionString: suite.databaseUrl('governance') });
    await db.connect();
    try {
      await db.query('BEGIN');
      await db.query('ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only');
      await db.query(`UPDATE audit_entries SET summary = 'nothing to see' WHERE org_id = $1 AND seq = 3`, [
        org.id,
      ]);
      await db.query('ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only');
      await db.query('COMMIT');
    } finally {
      await db.end();
    }
    const broken = await api.get(`/orgs/${org.id}/audit/verify`, admin.token);
    assert.deepEqual(broken.body, { ok: false, checked: 2, firstBrokenSeq: 3 });
  });

  test("cross-tenant: every governance endpoint with another org's ids answers 404", async () => {
    const teamRes = await api.post<{ id: string }>(
      `/orgs/${foreignOrg.id}/teams`,
      { name: 'Theirs' },
      outsider.token,
    );
    assert.equal(teamRes.status, 201);
    const invitation = await api.post<{ id: string }>(
      `/orgs/${foreignOrg.id}/invitations`,
      { email: `z-${randomUUID()}@example.test`, role: 'MEMBER' },
      outsider.token,
    );
    assert.equal(invitation.status, 201);
    const o = foreignOrg.id;
    const t = teamRes.body.id;
    const u = outsider.id;
    const calls: Array<[string, string, unknown?]> = [
      ['GET', `/orgs/${o}`],
      ['PATCH', `/orgs/${o}`, { name: 'Mine now' }],
      ['DELETE', `/orgs/${o}`],
      ['POST', `/orgs/${o}/restore`],
      ['POST', `/orgs/${o}/transfer-ownership`, { userId: admin.id }],
      ['GET', `/orgs/${o}/settings`],
      ['PATCH', `/orgs/${o}/settings`, { allowSelfRemoval: false }],
      ['GET', `/orgs/${o}/members`],
      ['PATCH', `/orgs/${o}/members/${u}`, { role: 'VIEWER' }],
      ['DELETE', `/orgs/${o}/members/${u}`],
      ['POST', `/orgs/${o}/invitations`, { email: `q-${randomUUID()}@example.test`, role: 'MEMBER' }],
      ['GET', `/orgs/${o}/invitations`],
      ['POST', `/orgs/${o}/invitations/${invitation.body.id}/revoke`],
      ['POST', `/orgs/${o}/invitations/${invitation.body.id}/resend`],
      ['GET', `/orgs/${o}/approvals`],
      ['POST', `/orgs/${o}/approvals/${randomUUID()}/approve`, {}],
      ['POST', `/orgs/${o}/approvals/${randomUUID()}/reject`, {}],
      ['POST', `/orgs/${o}/approvals/${randomUUID()}/cancel`],
      ['GET', `/orgs/${o}/audit`],
      ['GET', `/orgs/${o}/audit/verify`],
      ['POST', `/orgs/${o}/teams`, { name: 'Sneaky' }],
      ['GET', `/orgs/${o}/teams`],
      ['GET', `/teams/${t}`],
      ['PATCH', `/teams/${t}`, { name: 'Sneaky' }],
      ['DELETE', `/teams/${t}`],
      ['GET', `/teams/${t}/members`],
      ['POST', `/teams/${t}/members`, { userId: admin.id, role: 'MEMBER' }],
      ['PATCH', `/teams/${t}/members/${u}`, { role: 'VIEWER' }],
      ['DELETE', `/teams/${t}/members/${u}`],
      ['POST', `/teams/${t}/transfer-ownership`, { userId: admin.id }],
      ['GET', `/teams/${t}/settings`],
      ['PATCH', `/teams/${t}/settings`, { thresholds: {} }],
    ];
    for (const [method, path, body] of calls) {
      const res = await api.call(method, path, { body, token: admin.token });
      assert.equal(res.status, 404, `${method} ${path} → ${res.status} ${JSON.stringify(res.body)}`);
      assert.equal(res.body.code, 'NOT_FOUND');
    }
    const stillTheirs = await api.get<Org>(`/orgs/${o}`, outsider.token);
    assert.equal(stillTheirs.body.name, foreignOrg.name, 'nothing changed');
  });
});
