import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import {
  consumerOf,
  createEvent,
  governanceEvents,
  type EventConsumer,
  type EventEnvelope,
} from '@trellis/shared';
import { assertProblem, waitFor, type TopicReader } from '@trellis/shared/testing';
import { CONSUMER_GROUP, identitySubscriptions } from '../src/events/subscriptions.ts';
import {
  bearer,
  envelopes,
  PASSWORD,
  readTopics,
  register,
  startIdentity,
  uniqueIp,
  waitForEvent,
  type Identity,
} from './helpers.ts';

let identity: Identity;
let reader: TopicReader;
let consumer: EventConsumer;

before(async () => {
  identity = await startIdentity();
  const { sequelize } = identity.harness.runtime;
  consumer = await identity.harness.runtime.bus.consume(
    consumerOf(CONSUMER_GROUP, identitySubscriptions({ sequelize, orgs: identity.services.orgs })),
  );
  reader = await readTopics(identity, ['identity.user', 'identity.session', 'identity.mail']);
});

after(async () => {
  await reader.stop();
  await consumer.stop();
  await identity.close();
});

const api = () => request(identity.app);

/** Publishes a governance event as governance would (through the bus, to this test's topics). */
async function publish(event: EventEnvelope, topic: string) {
  await identity.harness.runtime.bus.publish([{ topic, event }]);
}

async function orgCreated(ownerId: string) {
  const orgId = randomUUID();
  const event = createEvent(governanceEvents.orgCreated, 'governance', {
    subjectId: orgId,
    orgId,
    actorId: ownerId,
    data: { orgId, name: 'Acme', slug: `acme-${orgId.slice(0, 8)}`, ownerId },
  });
  await publish(event, 'governance.org');
  return { orgId, event };
}

async function memberAdded(orgId: string, userId: string) {
  const event = createEvent(governanceEvents.memberAdded, 'governance', {
    subjectId: `${orgId}:${userId}`,
    orgId,
    data: { orgId, userId, role: 'MEMBER' },
  });
  await publish(event, 'governance.membership');
  return event;
}

const owns = (userId: string) => identity.services.orgs.ownsLiveOrg(userId);

describe('the signed-in user', () => {
  test('PATCH /users/me renames, honours If-Match and publishes user.updated', async () => {
    const session = await register(identity.app);
    const auth = bearer(session.accessToken);
    const me = await api().get('/api/v1/users/me').set(auth);
    const etag = me.headers.etag!;
    assert.ok(etag);

    const renamed = await api()
      .patch('/api/v1/users/me')
      .set(auth)
      .set('If-Match', etag)
      .send({ name: ' Ada K. ' });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    assert.equal(renamed.body.name, 'Ada K.');
    assert.notEqual(renamed.headers.etag, etag);
    assertProblem(
      await api().patch('/api/v1/users/me').set(auth).set('If-Match', etag).send({ name: 'Stale' }),
      412,
      'PRECONDITION_FAILED',
    );
    assertProblem(
      await api().patch('/api/v1/users/me').set(auth).send({ name: '' }),
      400,
      'VALIDATION_FAILED',
    );
    const event = await waitForEvent(
      reader,
      'identity.user',
      (e) => e.type === 'user.updated' && e.subjectId === session.user.id,
    );
    assert.deepEqual(event.data, { userId: session.user.id, email: session.email, name: 'Ada K.' });
  });

  test('deleting an org owner is refused (409) until the org is deleted; then 204 and the tokens die', async () => {
    const session = await register(identity.app);
    const auth = bearer(session.accessToken);
    const { orgId, event: created } = await orgCreated(session.user.id);
    await waitFor(() => owns(session.user.id), { what: 'the ownership projection' });
    assertProblem(await api().delete('/api/v1/users/me').set(auth), 409, 'CONFLICT');

    const deleted = createEvent(governanceEvents.orgDeleted, 'governance', {
      subjectId: orgId,
      orgId,
      data: { orgId },
    });
    await publish(deleted, 'governance.org');
    await waitFor(async () => !(await owns(session.user.id)), { what: 'org.deleted in the projection' });

    // A redelivered org.created changes nothing: the inbox knows its id. A marker event on the same
    // key (so the same partition, after it) tells us the redelivery has been handled.
    await publish(created, 'governance.org');
    const markerOrg = randomUUID();
    await publish(
      createEvent(governanceEvents.orgCreated, 'governance', {
        subjectId: orgId,
        data: { orgId: markerOrg, name: 'Marker', slug: 'marker', ownerId: randomUUID() },
      }),
      'governance.org',
    );
    await waitFor(() => identity.models.OrgProjection.findByPk(markerOrg), { what: 'the marker org' });
    assert.equal(await owns(session.user.id), false);

    assert.equal((await api().delete('/api/v1/users/me').set(auth)).status, 204);
    assertProblem(await api().get('/api/v1/users/me').set(auth), 401, 'UNAUTHENTICATED');
    assertProblem(
      await api().post('/api/v1/auth/refresh').send({ refreshToken: session.refreshToken }),
      401,
      'UNAUTHENTICATED',
    );
    const login = await api()
      .post('/api/v1/auth/login')
      .set('X-Forwarded-For', uniqueIp())
      .send({ email: session.email, password: PASSWORD });
    assertProblem(login, 401, 'UNAUTHENTICATED');

    await waitForEvent(
      reader,
      'identity.user',
      (e) => e.type === 'user.deleted' && e.subjectId === session.user.id,
    );
    const revoked = await waitForEvent(
      reader,
      'identity.session',
      (e) => e.data.userId === session.user.id && e.data.reason === 'account_deleted',
    );
    assert.equal(
      revoked.data.jti,
      JSON.parse(Buffer.from(session.accessToken.split('.')[1]!, 'base64url').toString()).jti,
    );

    // The e-mail is free again: a new account, with a new id.
    const again = await register(identity.app, session.email);
    assert.notEqual(again.user.id, session.user.id);
  });

  test('ownership follows transfers, and an org restored gives it back', async () => {
    const alice = await register(identity.app);
    const bob = await register(identity.app);
    const { orgId } = await orgCreated(alice.user.id);
    await waitFor(() => owns(alice.user.id), { what: 'alice owns' });
    await publish(
      createEvent(governanceEvents.orgOwnershipTransferred, 'governance', {
        subjectId: orgId,
        orgId,
        data: { orgId, fromUserId: alice.user.id, toUserId: bob.user.id },
      }),
      'governance.org',
    );
    await waitFor(() => owns(bob.user.id), { what: 'bob owns' });
    assert.equal(await owns(alice.user.id), false);
    assert.equal((await api().delete('/api/v1/users/me').set(bearer(alice.accessToken))).status, 204);

    await publish(
      createEvent(governanceEvents.orgDeleted, 'governance', { subjectId: orgId, data: { orgId } }),
      'governance.org',
    );
    await waitFor(async () => !(await owns(bob.user.id)), { what: 'deleted org' });
    await publish(
      createEvent(governanceEvents.orgRestored, 'governance', {
        subjectId: orgId,
        data: { orgId, name: 'Acme', slug: 'acme', ownerId: bob.user.id },
      }),
      'governance.org',
    );
    await waitFor(() => owns(bob.user.id), { what: 'restored org' });
    assertProblem(await api().delete('/api/v1/users/me').set(bearer(bob.accessToken)), 409, 'CONFLICT');
  });
});

describe('other users', () => {
  test('/users/{id} is 404 for a stranger, 200 once both share an org, 404 again after removal', async () => {
    const owner = await register(identity.app);
    const member = await register(identity.app);
    const path = `/api/v1/users/${member.user.id}`;
    assertProblem(await api().get(path).set(bearer(owner.accessToken)), 404, 'NOT_FOUND');
    assertProblem(
      await api().get(`/api/v1/users/${randomUUID()}`).set(bearer(owner.accessToken)),
      404,
      'NOT_FOUND',
    );

    const { orgId } = await orgCreated(owner.user.id);
    await memberAdded(orgId, member.user.id);
    const seen = await waitFor(
      async () => {
        const res = await api().get(path).set(bearer(owner.accessToken));
        return res.status === 200 ? res : undefined;
      },
      { what: 'the membership projection' },
    );
    assert.deepEqual(seen.body, { id: member.user.id, name: member.user.name, email: member.email });
    const back = await api().get(`/api/v1/users/${owner.user.id}`).set(bearer(member.accessToken));
    assert.equal(back.status, 200);

    await publish(
      createEvent(governanceEvents.memberRemoved, 'governance', {
        subjectId: `${orgId}:${member.user.id}`,
        data: { orgId, userId: member.user.id, reason: 'removed' },
      }),
      'governance.membership',
    );
    await waitFor(async () => (await api().get(path).set(bearer(owner.accessToken))).status === 404, {
      what: 'member.removed in the projection',
    });
  });

  test('one can always see oneself; a malformed id is a 400', async () => {
    const session = await register(identity.app);
    const self = await api().get(`/api/v1/users/${session.user.id}`).set(bearer(session.accessToken));
    assert.equal(self.status, 200);
    const bad = await api().get('/api/v1/users/not-a-uuid').set(bearer(session.accessToken));
    assertProblem(bad, 400, 'VALIDATION_FAILED');
    assert.equal(bad.body.errors[0].path, 'params.id');
  });
});

describe('events and documentation', () => {
  test('user and session events carry the right types and no password, token or code', async () => {
    const session = await register(identity.app);
    await api()
      .post('/api/v1/auth/logout')
      .set(bearer(session.accessToken))
      .send({ refreshToken: session.refreshToken });
    const registered = await waitForEvent(
      reader,
      'identity.user',
      (e) => e.type === 'user.registered' && e.subjectId === session.user.id,
    );
    assert.deepEqual(registered.data, {
      userId: session.user.id,
      email: session.email,
      name: 'Ada Lovelace',
    });
    assert.equal(registered.source, 'identity');
    const logout = await waitForEvent(
      reader,
      'identity.session',
      (e) => e.type === 'session.revoked' && e.data.userId === session.user.id && e.data.reason === 'logout',
    );
    assert.ok(logout.data.familyId);

    const raw = [...reader.on('identity.user'), ...reader.on('identity.session')].map((m) => m.value ?? '');
    for (const value of raw) {
      assert.ok(!value.includes(PASSWORD), 'a password leaked into an event');
      assert.ok(!value.includes(session.refreshToken), 'a refresh token leaked');
      assert.ok(!value.includes(session.accessToken), 'an access token leaked');
      assert.ok(!/"(password|passwordHash|code|token|refreshToken|accessToken)"/.test(value), value);
    }
    for (const event of envelopes(reader, 'identity.session')) assert.equal(event.type, 'session.revoked');
  });

  test('GET /openapi.json documents every route from the zod schemas', async () => {
    const res = await api().get('/openapi.json');
    assert.equal(res.status, 200);
    assert.equal(res.body.openapi, '3.1.0');
    assert.equal(res.body.info.title, 'identity');
    for (const path of [
      '/api/v1/auth/register',
      '/api/v1/auth/login',
      '/api/v1/auth/refresh',
      '/api/v1/auth/logout',
      '/api/v1/auth/password/change',
      '/api/v1/auth/password/forgot',
      '/api/v1/auth/password/reset',
      '/api/v1/auth/email/verify/request',
      '/api/v1/auth/email/verify',
      '/api/v1/auth/jwks',
      '/api/v1/users/me',
      '/api/v1/users/{id}',
    ]) {
      assert.ok(res.body.paths[path], `${path} is documented`);
    }
    const register = res.body.paths['/api/v1/auth/register'].post;
    assert.deepEqual(register.security, []);
    assert.deepEqual(register.requestBody.content['application/json'].schema.required.sort(), [
      'email',
      'name',
      'password',
    ]);
    assert.deepEqual(res.body.paths['/api/v1/users/me'].get.security, [{ bearer: [] }]);
  });
});
