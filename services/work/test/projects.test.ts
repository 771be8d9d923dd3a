import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { governanceEvents } from '@trellis/shared';
import { assertProblem, stopServers, waitFor } from '@trellis/shared/testing';
import { GovernanceClient } from '../src/access/governance-client.ts';
import {
  addMember,
  api,
  createProject,
  newUser,
  orgWithRoles,
  publish,
  startWork,
  uniqueKey,
  untilMember,
  type Work,
} from './helpers.ts';

let work: Work;
let governance: Server;
/** What the stand-in for governance's internal endpoint knows: `${orgId}/${userId}` → org role. */
const known = new Map<string, string>();

before(async () => {
  governance = createServer((req, res) => {
    const match = /^\/internal\/orgs\/([^/]+)\/members\/([^/]+)$/.exec(req.url ?? '');
    const role =
      match && req.headers.authorization?.startsWith('Bearer ')
        ? known.get(`${match[1]}/${match[2]}`)
        : undefined;
    if (!match || !role) {
      res.writeHead(404, { 'content-type': 'application/problem+json' }).end('{}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        orgId: match[1],
        userId: match[2],
        role,
        teams: [],
        orgSettings: { thresholds: {}, projectDefaults: {}, plan: 'FREE', requireApproval: {} },
        teamSettings: {},
      }),
    );
  });
  await new Promise<void>((resolve) => governance.listen(0, '127.0.0.1', resolve));
  const address = governance.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  work = await startWork({
    governance: new GovernanceClient({
      baseUrl: `http://127.0.0.1:${port}`,
      logger: (await import('@trellis/shared/testing')).testLogger('work'),
    }),
  });
});

after(async () => {
  await work.close();
  await stopServers([governance]);
});

test('the org owner and a MANAGER-level admin create projects; a plain MEMBER is denied by default', async () => {
  const org = await orgWithRoles(work);
  const byOwner = await api(work.app)
    .post('/api/v1/projects')
    .set(org.owner.auth)
    .send({ orgId: org.orgId, name: 'Apollo', key: uniqueKey() });
  assert.equal(byOwner.status, 201);
  assert.equal(byOwner.body.status, 'ACTIVE');
  assert.equal(byOwner.body.myRole, 'OWNER');
  assert.equal(byOwner.body.ownerId, org.owner.id);
  assert.equal(byOwner.headers.etag, '"1"');
  assert.match(String(byOwner.headers.location), /\/api\/v1\/projects\//);

  const byAdmin = await api(work.app)
    .post('/api/v1/projects')
    .set(org.ADMIN.auth)
    .send({ orgId: org.orgId, name: 'Gemini', key: uniqueKey() });
  assert.equal(byAdmin.status, 201);

  const byMember = await api(work.app)
    .post('/api/v1/projects')
    .set(org.MEMBER.auth)
    .send({ orgId: org.orgId, name: 'Mercury', key: uniqueKey() });
  assertProblem(byMember, 403, 'POLICY_DENIED');
  assert.deepEqual(byMember.body.policy, {
    scope: 'org',
    action: 'project.create',
    requiredRole: 'ADMIN',
    yourRole: 'MEMBER',
  });

  // The org lowers project.create to MEMBER: the member may now.
  await publish(work, governanceEvents.orgSettingsChanged, {
    subjectId: org.orgId,
    orgId: org.orgId,
    data: { orgId: org.orgId, settings: { thresholds: { 'project.create': 'MEMBER' }, plan: 'FREE' } },
  });
  await waitFor(
    async () => {
      const res = await api(work.app)
        .post('/api/v1/projects')
        .set(org.MEMBER.auth)
        .send({ orgId: org.orgId, name: 'Mercury', key: uniqueKey() });
      return res.status === 201 ? res : undefined;
    },
    { what: 'member may create after settingsChanged' },
  );
});

test('keys: format 400, duplicate in the org 409', async () => {
  const org = await orgWithRoles(work, []);
  const key = uniqueKey();
  await createProject(work, org.owner, { orgId: org.orgId, name: 'One', key });
  const dup = await api(work.app)
    .post('/api/v1/projects')
    .set(org.owner.auth)
    .send({ orgId: org.orgId, name: 'Two', key });
  assertProblem(dup, 409, 'CONFLICT');
  const bad = await api(work.app)
    .post('/api/v1/projects')
    .set(org.owner.auth)
    .send({ orgId: org.orgId, name: 'Bad', key: 'ab' });
  assertProblem(bad, 400, 'VALIDATION_FAILED');
});

test('lists show only what the caller may see; an outsider gets an empty list and 404 on details', async () => {
  const org = await orgWithRoles(work);
  const open = await createProject(work, org.owner, { orgId: org.orgId, name: 'Open', key: uniqueKey() });
  const secret = await createProject(work, org.owner, {
    orgId: org.orgId,
    name: 'Secret',
    key: uniqueKey(),
    visibility: 'PRIVATE',
  });

  const ids = async (user: { auth: { Authorization: string } }, query: Record<string, string> = {}) => {
    const res = await api(work.app).get('/api/v1/projects').query(query).set(user.auth);
    assert.equal(res.status, 200);
    return (res.body.items as { id: string; myRole: string }[]).map((p) => p.id);
  };
  assert.deepEqual(await ids(org.owner, { orgId: org.orgId }), [open.id, secret.id]);
  assert.deepEqual(await ids(org.ADMIN, { orgId: org.orgId }), [open.id, secret.id]);
  assert.deepEqual(await ids(org.MEMBER, { orgId: org.orgId }), [open.id]);
  const viewerGet = await api(work.app).get(`/api/v1/projects/${open.id}`).set(org.VIEWER.auth);
  assert.equal(viewerGet.body.myRole, 'VIEWER');
  assertProblem(
    await api(work.app).get(`/api/v1/projects/${secret.id}`).set(org.MEMBER.auth),
    404,
    'NOT_FOUND',
  );

  const outsider = newUser(work);
  assert.deepEqual(await ids(outsider), []);
  assert.deepEqual(await ids(outsider, { orgId: org.orgId }), []);
  assertProblem(await api(work.app).get(`/api/v1/projects/${open.id}`).set(outsider.auth), 404, 'NOT_FOUND');

  // Explicit membership opens the private project, with source explicit.
  await addMember(work, org.owner, secret.id, org.MEMBER.id, 'CONTRIBUTOR');
  assert.deepEqual(await ids(org.MEMBER, { orgId: org.orgId }), [open.id, secret.id]);
  const members = await api(work.app).get(`/api/v1/projects/${secret.id}/members`).set(org.MEMBER.auth);
  const byUser = Object.fromEntries(
    (members.body.items as { userId: string; role: string; source: string }[]).map((m) => [
      m.userId,
      [m.role, m.source],
    ]),
  );
  assert.deepEqual(byUser[org.MEMBER.id], ['CONTRIBUTOR', 'explicit']);
  assert.deepEqual(byUser[org.owner.id], ['OWNER', 'explicit']);
  assert.deepEqual(byUser[org.ADMIN.id], ['MANAGER', 'org']);
  assert.equal(byUser[org.VIEWER.id], undefined);
});

test('PATCH honours If-Match; DELETE hides the project; restore brings it back', async () => {
  const org = await orgWithRoles(work);
  const project = await createProject(work, org.owner, { orgId: org.orgId, name: 'Old', key: uniqueKey() });
  assertProblem(
    await api(work.app)
      .patch(`/api/v1/projects/${project.id}`)
      .set(org.owner.auth)
      .set('If-Match', '"7"')
      .send({ name: 'New' }),
    412,
    'PRECONDITION_FAILED',
  );
  const patched = await api(work.app)
    .patch(`/api/v1/projects/${project.id}`)
    .set(org.owner.auth)
    .set('If-Match', '"1"')
    .send({ name: 'New', status: 'ON_HOLD' });
  assert.equal(patched.status, 200);
  assert.equal(patched.body.version, 2);
  assertProblem(
    await api(work.app).patch(`/api/v1/projects/${project.id}`).set(org.MEMBER.auth).send({ name: 'Nope' }),
    403,
    'POLICY_DENIED',
  );
  assert.equal(
    (await api(work.app).delete(`/api/v1/projects/${project.id}`).set(org.owner.auth)).status,
    204,
  );
  assertProblem(
    await api(work.app).get(`/api/v1/projects/${project.id}`).set(org.owner.auth),
    404,
    'NOT_FOUND',
  );
  const restored = await api(work.app).post(`/api/v1/projects/${project.id}/restore`).set(org.owner.auth);
  assert.equal(restored.status, 200);
  assert.equal(restored.body.name, 'New');
});

test('settings: thresholds in force and onlyAssigneeCanUpdateTask; range checked', async () => {
  const org = await orgWithRoles(work, []);
  const project = await createProject(work, org.owner, { orgId: org.orgId, name: 'S', key: uniqueKey() });
  const got = await api(work.app).get(`/api/v1/projects/${project.id}/settings`).set(org.owner.auth);
  assert.equal(got.body.thresholdsInForce['task.delete'], 'MANAGER');
  const bad = await api(work.app)
    .patch(`/api/v1/projects/${project.id}/settings`)
    .set(org.owner.auth)
    .send({ thresholds: { 'task.create': 'OWNER' } });
  assertProblem(bad, 422, 'VALIDATION_FAILED');
  const ok = await api(work.app)
    .patch(`/api/v1/projects/${project.id}/settings`)
    .set(org.owner.auth)
    .send({ thresholds: { 'task.delete': 'LEAD' }, onlyAssigneeCanUpdateTask: true });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.thresholdsInForce['task.delete'], 'LEAD');
  assert.equal(ok.body.onlyAssigneeCanUpdateTask, true);
});

test('requireApproval.projectCreation: 202 PENDING_APPROVAL, approval.decided activates or discards', async () => {
  const org = await orgWithRoles(work);
  await publish(work, governanceEvents.orgSettingsChanged, {
    subjectId: org.orgId,
    orgId: org.orgId,
    data: { orgId: org.orgId, settings: { requireApproval: { projectCreation: true }, plan: 'FREE' } },
  });
  const pending = await waitFor(
    async () => {
      const res = await api(work.app)
        .post('/api/v1/projects')
        .set(org.ADMIN.auth)
        .send({ orgId: org.orgId, name: 'Waiting', key: uniqueKey() });
      if (res.status === 201)
        await api(work.app).delete(`/api/v1/projects/${res.body.id}`).set(org.owner.auth);
      return res.status === 202 ? res : undefined;
    },
    { what: '202 once settings arrived' },
  );
  assert.equal(pending.body.project.status, 'PENDING_APPROVAL');
  assert.deepEqual(pending.body.approval, { state: 'PENDING' });
  // The owner is never held up.
  const own = await api(work.app)
    .post('/api/v1/projects')
    .set(org.owner.auth)
    .send({ orgId: org.orgId, name: 'Mine', key: uniqueKey() });
  assert.equal(own.status, 201);

  const second = await api(work.app)
    .post('/api/v1/projects')
    .set(org.ADMIN.auth)
    .send({ orgId: org.orgId, name: 'Rejected', key: uniqueKey() });
  const decide = (projectId: string, decision: 'APPROVED' | 'REJECTED') =>
    publish(work, governanceEvents.approvalDecided, {
      subjectId: randomUUID(),
      orgId: org.orgId,
      data: {
        approvalId: randomUUID(),
        orgId: org.orgId,
        kind: 'project.create',
        requestedBy: org.ADMIN.id,
        payload: { projectId },
        decision,
        decidedBy: org.owner.id,
        reason: null,
      },
    });
  await decide(pending.body.project.id, 'APPROVED');
  await decide(second.body.project.id, 'REJECTED');
  await waitFor(
    async () => {
      const res = await api(work.app).get(`/api/v1/projects/${pending.body.project.id}`).set(org.ADMIN.auth);
      return res.body.status === 'ACTIVE' ? res : undefined;
    },
    { what: 'activated' },
  );
  await waitFor(
    async () => {
      const res = await api(work.app).get(`/api/v1/projects/${second.body.project.id}`).set(org.ADMIN.auth);
      return res.status === 404 ? res : undefined;
    },
    { what: 'discarded' },
  );
});

test('a member removed by member.removed loses access (404)', async () => {
  const org = await orgWithRoles(work);
  const project = await createProject(work, org.owner, { orgId: org.orgId, name: 'R', key: uniqueKey() });
  assert.equal((await api(work.app).get(`/api/v1/projects/${project.id}`).set(org.MEMBER.auth)).status, 200);
  await publish(work, governanceEvents.memberRemoved, {
    subjectId: org.orgId,
    orgId: org.orgId,
    data: { orgId: org.orgId, userId: org.MEMBER.id, reason: 'removed' },
  });
  await untilMember(work, org.orgId, org.MEMBER.id, false);
  assertProblem(
    await api(work.app).get(`/api/v1/projects/${project.id}`).set(org.MEMBER.auth),
    404,
    'NOT_FOUND',
  );
});

test('a user only governance knows yet (event in flight) can act at once through the fallback', async () => {
  const org = await orgWithRoles(work, []);
  const project = await createProject(work, org.owner, { orgId: org.orgId, name: 'F', key: uniqueKey() });
  const late = newUser(work);
  assertProblem(await api(work.app).get(`/api/v1/projects/${project.id}`).set(late.auth), 404, 'NOT_FOUND');
  known.set(`${org.orgId}/${late.id}`, 'ADMIN');
  const seen = await api(work.app).get(`/api/v1/projects/${project.id}`).set(late.auth);
  assert.equal(seen.status, 200);
  assert.equal(seen.body.myRole, 'MANAGER');
  const created = await api(work.app)
    .post('/api/v1/projects')
    .set(late.auth)
    .send({ orgId: org.orgId, name: 'Late', key: uniqueKey() });
  assert.equal(created.status, 201);
  assert.equal(await work.services.projection.hasOrgMember(org.orgId, late.id), true);
});
