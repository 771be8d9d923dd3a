import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
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
} from './helpers.ts';

let gov: Governance;
let reader: TopicReader;

before(async () => {
  gov = await startGovernance();
  reader = await readTopics(gov, ['governance.org', 'governance.membership']);
});

after(async () => {
  await reader.stop();
  await gov.close();
});

describe('creating and reading orgs', () => {
  test('the creator is OWNER; 201 with Location and ETag; org.created and member.added carry orgId and actorId', async () => {
    const ada = await newUser(gov);
    const res = await api(gov.app)
      .post('/api/v1/orgs')
      .set(ada.auth)
      .send({ name: '  Ünïcode Works, Inc. ' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const org = res.body;
    assert.equal(res.headers.location, `/api/v1/orgs/${org.id}`);
    assert.equal(res.headers.etag, '"1"');
    assert.deepEqual(
      { ...org, id: undefined, createdAt: undefined },
      {
        id: undefined,
        createdAt: undefined,
        name: 'Ünïcode Works, Inc.',
        slug: 'unicode-works-inc',
        ownerId: ada.id,
        plan: 'FREE',
        myRole: 'OWNER',
        version: 1,
      },
    );
    const members = await api(gov.app).get(`/api/v1/orgs/${org.id}/members`).set(ada.auth);
    assert.deepEqual(
      members.body.items.map((m: { userId: string; role: string; name: string }) => [
        m.userId,
        m.role,
        m.name,
      ]),
      [[ada.id, 'OWNER', ada.name]],
    );

    const created = await waitForEvent(reader, 'governance.org', (e) => e.subjectId === org.id);
    assert.equal(created.type, 'org.created');
    assert.equal(created.orgId, org.id);
    assert.equal(created.actorId, ada.id);
    assert.deepEqual(created.data, { orgId: org.id, name: org.name, slug: org.slug, ownerId: ada.id });
    const added = await waitForEvent(
      reader,
      'governance.membership',
      (e) => e.type === 'member.added' && e.orgId === org.id,
    );
    assert.equal(added.actorId, ada.id);
    assert.deepEqual(added.data, { orgId: org.id, userId: ada.id, role: 'OWNER' });
  });

  test('slugs: derived ones get a suffix on collision, an explicit taken one is 409, a bad one 400', async () => {
    const ada = await newUser(gov);
    const name = `Slug Test ${randomUUID().slice(0, 6)}`;
    const first = await createOrg(gov, ada, { name });
    const second = await createOrg(gov, ada, { name });
    assert.equal(second.slug, `${first.slug}-2`);
    assertProblem(
      await api(gov.app).post('/api/v1/orgs').set(ada.auth).send({ name: 'Other', slug: first.slug }),
      409,
      'CONFLICT',
    );
    const bad = await api(gov.app)
      .post('/api/v1/orgs')
      .set(ada.auth)
      .send({ name: 'Other', slug: 'no spaces!' });
    assertProblem(bad, 400, 'VALIDATION_FAILED');
    assert.equal(bad.body.errors[0].path, 'body.slug');
    const explicit = await createOrg(gov, ada, { name: 'Whatever', slug: `My-Slug-${first.id.slice(0, 4)}` });
    assert.equal(explicit.slug, `my-slug-${first.id.slice(0, 4)}`);

    const bySlug = await api(gov.app)
      .get(`/api/v1/orgs/by-slug/${first.slug}`)
      .set((await newUser(gov)).auth);
    assert.equal(bySlug.status, 200);
    assert.deepEqual(bySlug.body, { id: first.id, name, slug: first.slug });
    assertProblem(
      await api(gov.app).get('/api/v1/orgs/by-slug/no-such-org-anywhere').set(ada.auth),
      404,
      'NOT_FOUND',
    );
  });

  test('GET /orgs lists only mine, with myRole, paginated by cursor', async () => {
    const ada = await newUser(gov);
    const bob = await newUser(gov, 'Bob Builder');
    const mine = [];
    for (let i = 0; i < 3; i++) mine.push(await createOrg(gov, ada));
    const bobs = await createOrg(gov, bob);
    await addMember(gov, bobs.id, ada, 'VIEWER', bob.id);
    await createOrg(gov, bob); // not Ada's

    const seen: { id: string; myRole: string }[] = [];
    let cursor: string | null = null;
    do {
      const res: {
        status: number;
        body: { items: { id: string; myRole: string }[]; nextCursor: string | null };
      } = await api(gov.app)
        .get('/api/v1/orgs')
        .query({ limit: 2, ...(cursor ? { cursor } : {}) })
        .set(ada.auth);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.ok(res.body.items.length <= 2);
      seen.push(...res.body.items);
      cursor = res.body.nextCursor;
    } while (cursor);
    assert.deepEqual(
      seen.map((o) => [o.id, o.myRole]),
      [...mine.map((o) => [o.id, 'OWNER']), [bobs.id, 'VIEWER']],
    );
    assertProblem(
      await api(gov.app).get('/api/v1/orgs').query({ cursor: 'garbage' }).set(ada.auth),
      400,
      'VALIDATION_FAILED',
    );
    assertProblem(
      await api(gov.app).get('/api/v1/orgs').query({ limit: 0 }).set(ada.auth),
      400,
      'VALIDATION_FAILED',
    );
  });
});

describe('changing orgs', () => {
  test('PATCH renames for ADMIN+, honours If-Match (412), and MANAGER gets 403 POLICY_DENIED', async () => {
    const { org, admin, manager } = await orgWithRoles(gov);
    const path = `/api/v1/orgs/${org.id}`;
    const denied = await api(gov.app).patch(path).set(manager.auth).send({ name: 'Nope' });
    assertProblem(denied, 403, 'POLICY_DENIED');
    assert.deepEqual(denied.body.policy, {
      scope: 'org',
      action: 'org.update',
      requiredRole: 'ADMIN',
      yourRole: 'MANAGER',
    });

    const renamed = await api(gov.app)
      .patch(path)
      .set(admin.auth)
      .set('If-Match', '"1"')
      .send({ name: 'Renamed' });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    assert.equal(renamed.body.name, 'Renamed');
    assert.equal(renamed.body.myRole, 'ADMIN');
    assert.equal(renamed.headers.etag, '"2"');
    assertProblem(
      await api(gov.app).patch(path).set(admin.auth).set('If-Match', '"1"').send({ name: 'Stale' }),
      412,
      'PRECONDITION_FAILED',
    );
    assertProblem(
      await api(gov.app).patch(path).set(admin.auth).send({ name: '' }),
      400,
      'VALIDATION_FAILED',
    );
    const updated = await waitForEvent(
      reader,
      'governance.org',
      (e) => e.type === 'org.updated' && e.orgId === org.id,
    );
    assert.equal(updated.actorId, admin.id);
    assert.equal(updated.data.name, 'Renamed');
  });

  test('DELETE is owner only, hides the org (404 everywhere), and the owner restores it', async () => {
    const { org, owner, admin } = await orgWithRoles(gov);
    const path = `/api/v1/orgs/${org.id}`;
    assertProblem(await api(gov.app).delete(path).set(admin.auth), 403, 'POLICY_DENIED');
    assert.equal((await api(gov.app).delete(path).set(owner.auth)).status, 204);

    assertProblem(await api(gov.app).get(path).set(owner.auth), 404, 'NOT_FOUND');
    assertProblem(await api(gov.app).get(`${path}/members`).set(owner.auth), 404, 'NOT_FOUND');
    assertProblem(await api(gov.app).get(`${path}/settings`).set(admin.auth), 404, 'NOT_FOUND');
    assertProblem(
      await api(gov.app).get(`/api/v1/orgs/by-slug/${org.slug}`).set(admin.auth),
      404,
      'NOT_FOUND',
    );
    const list = await api(gov.app).get('/api/v1/orgs').set(owner.auth);
    assert.ok(!list.body.items.some((o: { id: string }) => o.id === org.id));

    // Only the owner may restore; to anyone else the deleted org does not exist.
    assertProblem(await api(gov.app).post(`${path}/restore`).set(admin.auth), 404, 'NOT_FOUND');
    const restored = await api(gov.app).post(`${path}/restore`).set(owner.auth);
    assert.equal(restored.status, 200, JSON.stringify(restored.body));
    assert.equal(restored.body.myRole, 'OWNER');
    assert.equal((await api(gov.app).get(path).set(admin.auth)).status, 200);
    assertProblem(await api(gov.app).post(`${path}/restore`).set(owner.auth), 404, 'NOT_FOUND');

    await waitForEvent(reader, 'governance.org', (e) => e.type === 'org.restored' && e.orgId === org.id);
    const lifecycle = envelopes(reader, 'governance.org')
      .filter((e) => e.orgId === org.id)
      .map((e) => [e.type, e.actorId]);
    assert.deepEqual(lifecycle, [
      ['org.created', owner.id],
      ['org.deleted', owner.id],
      ['org.restored', owner.id],
    ]);
  });

  test('restore is refused after 30 days', async () => {
    const owner = await newUser(gov);
    const org = await createOrg(gov, owner);
    assert.equal((await api(gov.app).delete(`/api/v1/orgs/${org.id}`).set(owner.auth)).status, 204);
    await gov.harness.runtime.sequelize.query(
      `UPDATE orgs SET deleted_at = now() - interval '31 days' WHERE id = :id`,
      { replacements: { id: org.id } },
    );
    assertProblem(
      await api(gov.app).post(`/api/v1/orgs/${org.id}/restore`).set(owner.auth),
      404,
      'NOT_FOUND',
    );
  });

  test('ownership transfer: owner only, to a member; new OWNER, old owner ADMIN; the owner cannot leave before', async () => {
    const { org, owner, admin, member } = await orgWithRoles(gov);
    const path = `/api/v1/orgs/${org.id}`;
    assertProblem(
      await api(gov.app).delete(`${path}/members/${owner.id}`).set(owner.auth),
      409,
      'OWNER_MUST_TRANSFER',
    );
    assertProblem(
      await api(gov.app).post(`${path}/transfer-ownership`).set(admin.auth).send({ userId: member.id }),
      403,
      'POLICY_DENIED',
    );
    const stranger = await newUser(gov);
    const notMember = await api(gov.app)
      .post(`${path}/transfer-ownership`)
      .set(owner.auth)
      .send({ userId: stranger.id });
    assertProblem(notMember, 422, 'VALIDATION_FAILED');
    assert.equal(notMember.body.errors[0].path, 'body.userId');
    assertProblem(
      await api(gov.app).post(`${path}/transfer-ownership`).set(owner.auth).send({ userId: 'nope' }),
      400,
      'VALIDATION_FAILED',
    );

    const moved = await api(gov.app)
      .post(`${path}/transfer-ownership`)
      .set(owner.auth)
      .send({ userId: member.id });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    assert.equal(moved.body.ownerId, member.id);
    assert.equal(moved.body.myRole, 'ADMIN');
    const roles = await api(gov.app).get(`${path}/members`).set(owner.auth);
    const roleOf = (id: string) => roles.body.items.find((m: { userId: string }) => m.userId === id)?.role;
    assert.equal(roleOf(member.id), 'OWNER');
    assert.equal(roleOf(owner.id), 'ADMIN');

    // The former owner can leave now; the new one cannot.
    assertProblem(
      await api(gov.app).delete(`${path}/members/${member.id}`).set(member.auth),
      409,
      'OWNER_MUST_TRANSFER',
    );
    assert.equal((await api(gov.app).delete(`${path}/members/${owner.id}`).set(owner.auth)).status, 204);

    const transferred = await waitForEvent(
      reader,
      'governance.org',
      (e) => e.type === 'org.ownershipTransferred' && e.orgId === org.id,
    );
    assert.deepEqual(transferred.data, { orgId: org.id, fromUserId: owner.id, toUserId: member.id });
    assert.equal(transferred.actorId, owner.id);
    await waitForEvent(
      reader,
      'governance.membership',
      (e) => e.type === 'member.roleChanged' && e.orgId === org.id && e.data.userId === owner.id,
    );
  });
});
