import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { QueryTypes } from 'sequelize';
import type { Connection } from 'mongoose';
import {
  accessProjection,
  connectMongo,
  consumerOf,
  createEvent,
  governanceEvents as g,
  MongoInbox,
  type AccessProjection,
  type EventDefinition,
  type EventEnvelope,
} from '@trellis/shared';
import { testLogger, testMongoUrl } from '@trellis/shared/testing';
import { CONSUMER_GROUP, workSubscriptions } from '../src/events/subscriptions.ts';
import { startWork, type Work } from './helpers.ts';

// One access model: the same governance events, applied by work's PostgreSQL store and by the
// MongoDB store collab and notify use, through the one set of shared rules, leave the same roles.

let work: Work;
let connection: Connection;
let mongo: AccessProjection;
let deliverPg: (event: EventEnvelope) => Promise<unknown>;
let deliverMongo: (event: EventEnvelope) => Promise<unknown>;

before(async () => {
  work = await startWork();
  connection = await connectMongo(testMongoUrl('rules'), testLogger('rules'));
  mongo = accessProjection({ connection, name: 'rules' });
  const { sequelize } = work.harness.runtime;
  const { services } = work;
  const pg = consumerOf(
    CONSUMER_GROUP,
    workSubscriptions({
      sequelize,
      projection: services.projection,
      projectApprovals: services.projectApprovals,
      memo: services.memo,
    }),
  );
  const mg = consumerOf('rules', mongo.subscriptions(new MongoInbox(connection)));
  let offset = 0;
  const consumed = (event: EventEnvelope) => ({ event, topic: 'x', partition: 0, offset: String(offset++) });
  deliverPg = (event) => pg.handle(consumed(event));
  deliverMongo = (event) => mg.handle(consumed(event));
});

after(async () => {
  await connection?.dropDatabase();
  await connection?.close();
  await work?.close();
});

async function both<D extends Record<string, unknown>>(definition: EventDefinition<D>, data: D) {
  const event = createEvent(definition, 'governance', { subjectId: randomUUID(), data, orgId: null });
  await deliverPg(event as EventEnvelope);
  await deliverMongo(event as EventEnvelope);
}

async function pgRoles(orgId: string, teamId: string) {
  const { sequelize } = work.harness.runtime;
  const rows = await sequelize.query<{ kind: string; userId: string; role: string }>(
    `SELECT 'org' AS kind, user_id AS "userId", role FROM org_members WHERE org_id = :orgId
     UNION ALL SELECT 'team', user_id, role FROM team_members WHERE team_id = :teamId`,
    { replacements: { orgId, teamId }, type: QueryTypes.SELECT },
  );
  return rows.map((r) => `${r.kind}:${r.userId}:${r.role}`).sort();
}

async function mongoRoles(orgId: string, teamId: string) {
  const { OrgMember, TeamMember } = mongo.models;
  const org = await OrgMember.find({ orgId, role: { $ne: null } }).lean();
  const team = await TeamMember.find({ teamId, role: { $ne: null } }).lean();
  return [
    ...org.map((m) => `org:${m.userId}:${m.role}`),
    ...team.map((m) => `team:${m.userId}:${m.role}`),
  ].sort();
}

test('work (PostgreSQL) and collab/notify (MongoDB) project the same memberships from the same events', async () => {
  const orgId = randomUUID();
  const teamId = randomUUID();
  const [ana, ben, cy, dee] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  const org = { orgId, name: 'Rules', slug: `rules-${orgId.slice(0, 6)}`, ownerId: ana };
  await both(g.orgCreated, org);
  await both(g.memberAdded, { orgId, userId: ana, role: 'OWNER' });
  await both(g.memberAdded, { orgId, userId: ben, role: 'ADMIN' });
  await both(g.memberAdded, { orgId, userId: cy, role: 'MEMBER' });
  await both(g.memberAdded, { orgId, userId: dee, role: 'VIEWER' });
  await both(g.teamCreated, { orgId, teamId, name: 'Core', description: null, ownerId: cy });
  await both(g.teamMemberAdded, { orgId, teamId, userId: cy, role: 'OWNER' });
  await both(g.teamMemberAdded, { orgId, teamId, userId: dee, role: 'MEMBER' });
  // Ownership moves, in the order governance publishes and out of it: one owner either way.
  await both(g.orgOwnershipTransferred, { orgId, fromUserId: ana, toUserId: ben });
  await both(g.memberRoleChanged, { orgId, userId: cy, from: 'MEMBER', to: 'OWNER' });
  await both(g.teamOwnershipTransferred, { orgId, teamId, fromUserId: cy, toUserId: dee });
  await both(g.teamMemberRoleChanged, { orgId, teamId, userId: dee, from: 'MEMBER', to: 'LEAD' });
  await both(g.memberRemoved, { orgId, userId: dee, reason: 'removed' });

  const expected = [`org:${ana}:ADMIN`, `org:${ben}:ADMIN`, `org:${cy}:OWNER`, `team:${cy}:MANAGER`].sort();
  assert.deepEqual(await pgRoles(orgId, teamId), expected);
  assert.deepEqual(await mongoRoles(orgId, teamId), expected);
});
