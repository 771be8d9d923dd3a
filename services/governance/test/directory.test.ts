import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import request from 'supertest';
import {
  createEvent,
  identityEvents,
  type EventConsumer,
  type EventEnvelope,
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
} from './helpers.ts';

let gov: Governance;
let consumer: EventConsumer;
let reader: TopicReader;

before(async () => {
  gov = await startGovernance();
  const { sequelize, bus } = gov.harness.runtime;
  await bus.ensureTopics(['identity.user']);
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
  reader = await readTopics(gov, ['governance.membership', 'governance.team']);
});

after(async () => {
  await reader.stop();
  await consumer.stop();
  await gov.close();
});

/** Publishes an identity event as identity would (through the bus, to this test's topics). */
async function publish(event: EventEnvelope) {
  await gov.harness.runtime.bus.publish([{ topic: 'identity.user', event }]);
}

test('user.registered and user.updated fill the directory that member lists show; redelivery changes nothing', async () => {
  const { org, owner } = await orgWithRoles(gov);
  const userId = randomUUID();
  const email = `grace-${userId.slice(0, 6)}@example.com`;
  const registered = createEvent(identityEvents.userRegistered, 'identity', {
    subjectId: userId,
    actorId: userId,
    data: { userId, email, name: 'Grace Hopper' },
  });
  await publish(registered);
  await waitFor(() => gov.models.DirectoryUser.findByPk(userId), { what: 'the directory entry' });
  const grace = { id: userId, email, name: 'Grace Hopper', auth: { Authorization: '' } };
  await addMember(gov, org.id, grace, 'MEMBER', owner.id);
  const found = await api(gov.app)
    .get(`/api/v1/orgs/${org.id}/members`)
    .query({ q: 'hopper' })
    .set(owner.auth);
  assert.deepEqual(
    found.body.items.map((m: { userId: string; name: string; email: string }) => [m.userId, m.name, m.email]),
    [[userId, 'Grace Hopper', email]],
  );

  await publish(
    createEvent(identityEvents.userUpdated, 'identity', {
      subjectId: userId,
      actorId: userId,
      data: { userId, email, name: 'Rear Admiral Hopper' },
    }),
  );
  await waitFor(
    async () => (await gov.models.DirectoryUser.findByPk(userId))?.name === 'Rear Admiral Hopper',
    {
      what: 'the rename',
    },
  );
  // The old registration again (same event id): the inbox knows it, the name stays.
  await publish(registered);
  const marker = randomUUID();
  await publish(
    createEvent(identityEvents.userRegistered, 'identity', {
      subjectId: userId, // same key → same partition, handled after the redelivery
      data: { userId: marker, email: `m-${marker.slice(0, 6)}@example.com`, name: 'Marker' },
    }),
  );
  await waitFor(() => gov.models.DirectoryUser.findByPk(marker), { what: 'the marker' });
  assert.equal((await gov.models.DirectoryUser.findByPk(userId))?.name, 'Rear Admiral Hopper');
});

test('user.deleted removes the user from every org and team (member.removed user_deleted); teams they owned pass to the org owner', async () => {
  const { org, owner, admin } = await orgWithRoles(gov);
  const other = await newUser(gov);
  const second = await api(gov.app).post('/api/v1/orgs').set(other.auth).send({ name: 'Second' });
  await addMember(gov, second.body.id, admin, 'MEMBER', other.id);
  const team = await api(gov.app)
    .post(`/api/v1/orgs/${org.id}/teams`)
    .set(admin.auth)
    .send({ name: 'Admins' });
  assert.equal(team.status, 201);

  await publish(
    createEvent(identityEvents.userDeleted, 'identity', {
      subjectId: admin.id,
      actorId: admin.id,
      data: { userId: admin.id },
    }),
  );
  await waitFor(async () => (await gov.models.OrgMember.count({ where: { userId: admin.id } })) === 0, {
    what: 'memberships removed',
  });
  assert.equal(await gov.models.TeamMember.count({ where: { userId: admin.id } }), 0);
  const teamNow = await api(gov.app).get(`/api/v1/teams/${team.body.id}`).set(owner.auth);
  assert.equal(teamNow.body.ownerId, owner.id);
  assertProblem(await api(gov.app).get(`/api/v1/orgs/${org.id}`).set(admin.auth), 404, 'NOT_FOUND');

  for (const orgId of [org.id, second.body.id]) {
    const removed = await waitForEvent(
      reader,
      'governance.membership',
      (e) => e.type === 'member.removed' && e.orgId === orgId && e.data.userId === admin.id,
    );
    assert.deepEqual(removed.data, { orgId, userId: admin.id, reason: 'user_deleted' });
    assert.equal(removed.actorId, admin.id);
  }
  await waitForEvent(
    reader,
    'governance.team',
    (e) => e.type === 'team.ownershipTransferred' && e.subjectId === team.body.id,
  );
  // A late user.updated does not bring the deleted user back into the directory.
  await publish(
    createEvent(identityEvents.userUpdated, 'identity', {
      subjectId: admin.id,
      data: { userId: admin.id, email: admin.email, name: 'Ghost' },
    }),
  );
  const marker = randomUUID();
  await publish(
    createEvent(identityEvents.userRegistered, 'identity', {
      subjectId: admin.id,
      data: { userId: marker, email: `m-${marker.slice(0, 6)}@example.com`, name: 'Marker' },
    }),
  );
  await waitFor(() => gov.models.DirectoryUser.findByPk(marker), { what: 'the marker' });
  const ghost = await gov.models.DirectoryUser.findByPk(admin.id);
  assert.notEqual(ghost?.name, 'Ghost');
  assert.ok(ghost?.deletedAt);
});

test('the internal membership endpoint: role, teams and settings for a member of a live org; 404 otherwise', async () => {
  const { org, owner, member } = await orgWithRoles(gov);
  const team = await api(gov.app).post(`/api/v1/orgs/${org.id}/teams`).set(owner.auth).send({ name: 'Core' });
  await api(gov.app)
    .post(`/api/v1/teams/${team.body.id}/members`)
    .set(owner.auth)
    .send({ userId: member.id, role: 'LEAD' });
  // The calling service forwards its caller's token; any valid token will do.
  const path = `/internal/orgs/${org.id}/members/${member.id}`;
  const res = await request(gov.app).get(path).set(owner.auth);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.role, 'MEMBER');
  assert.deepEqual(res.body.teams, [{ teamId: team.body.id, role: 'LEAD' }]);
  assert.equal(res.body.orgSettings.plan, 'FREE');
  assert.deepEqual(Object.keys(res.body.teamSettings), [team.body.id]);
  assert.deepEqual(res.body.teamSettings[team.body.id], { thresholds: {}, projectDefaults: {} });

  const stranger = await newUser(gov);
  assertProblem(
    await request(gov.app).get(`/internal/orgs/${org.id}/members/${stranger.id}`).set(owner.auth),
    404,
    'NOT_FOUND',
  );
  await api(gov.app).delete(`/api/v1/orgs/${org.id}`).set(owner.auth);
  assertProblem(await request(gov.app).get(path).set(owner.auth), 404, 'NOT_FOUND');
});
