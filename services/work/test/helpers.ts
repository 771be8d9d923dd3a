import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Express } from 'express';
import request from 'supertest';
import {
  consumerOf,
  createEvent,
  governanceEvents,
  type EventConsumer,
  type EventDefinition,
  type NewEvent,
  type OrgRole,
  type PostgresRuntime,
} from '@trellis/shared';
import {
  postgresHarness,
  stack,
  testSigner,
  TopicReader,
  waitFor,
  type Harness,
} from '@trellis/shared/testing';
import type { GovernanceClient } from '../src/access/governance-client.ts';
import { buildApp, buildServices } from '../src/app.ts';
import { CONSUMER_GROUP, workSubscriptions } from '../src/events/subscriptions.ts';
import { migrations } from '../src/migrations/index.ts';

/** Work as main.ts wires it (consumer included), on a fresh database and topic prefix. */
export async function startWork(options: { governance?: GovernanceClient; accessCacheTtlMs?: number } = {}) {
  const harness: Harness<PostgresRuntime> = await postgresHarness('work', migrations);
  const { sequelize, outbox, bus, readiness } = harness.runtime;
  const signer = testSigner();
  const deps = {
    logger: harness.logger,
    readiness,
    sequelize,
    outbox,
    resolveKey: signer.resolveKey,
    isRevoked: harness.runtime.revocations.isRevoked,
    ...(options.governance ? { governance: options.governance } : {}),
    ...(options.accessCacheTtlMs === undefined ? {} : { accessCacheTtlMs: options.accessCacheTtlMs }),
  };
  const services = buildServices(deps);
  const app = buildApp(deps, services);
  const subscriptions = workSubscriptions({
    sequelize,
    projection: services.projection,
    projectApprovals: services.projectApprovals,
    memo: services.memo,
  });
  await bus.ensureTopics([
    ...new Set([...subscriptions.map((s) => s.topic), 'work.project', 'work.task', 'work.sprint']),
  ]);
  const consumer: EventConsumer = await bus.consume(consumerOf(CONSUMER_GROUP, subscriptions));
  await consumer.ready;
  const close = async () => {
    await consumer.stop();
    options.governance?.shutdown();
    await harness.close();
  };
  return { harness, app, services, signer, close };
}

export type Work = Awaited<ReturnType<typeof startWork>>;

/** Reads what work actually published (from the beginning of this test's topics). */
export function readTopics(work: Work, topics: string[]): Promise<TopicReader> {
  return TopicReader.start(
    {
      brokers: stack.kafkaBrokers,
      topicPrefix: work.harness.runtime.bus.prefix,
      partitions: work.harness.runtime.bus.partitions,
      groupId: (name) => `${name}-${randomBytes(3).toString('hex')}`,
    },
    topics,
  );
}

export { envelopes, waitForEvent } from '@trellis/shared/testing';

export interface TestUser {
  id: string;
  auth: { Authorization: string };
}

export function newUser(work: Work): TestUser {
  const id = randomUUID();
  return {
    id,
    auth: {
      Authorization: `Bearer ${work.signer.sign({ sub: id, email: `u-${id.slice(0, 8)}@example.com` })}`,
    },
  };
}

/** Publishes a governance event as governance would (through the bus, to this test's topics). */
export async function publish<D extends Record<string, unknown>>(
  work: Work,
  definition: EventDefinition<D>,
  event: NewEvent<D>,
) {
  await work.harness.runtime.bus.publish([
    { topic: definition.topic, event: createEvent(definition, 'governance', event) },
  ]);
}

const hasMember = (work: Work, orgId: string, userId: string) =>
  work.services.projection.hasOrgMember(orgId, userId);

/** Waits until the projection holds (or no longer holds) a membership. */
export async function untilMember(work: Work, orgId: string, userId: string, present = true) {
  await waitFor(async () => ((await hasMember(work, orgId, userId)) === present ? true : undefined), {
    what: `membership ${present ? 'present' : 'gone'}`,
  });
}

/** An org known to work only through governance events: an owner and one member per given role. */
export async function orgWithRoles(work: Work, roles: OrgRole[] = ['ADMIN', 'MANAGER', 'MEMBER', 'VIEWER']) {
  const orgId = randomUUID();
  const owner = newUser(work);
  const slug = `acme-${orgId.slice(0, 6)}`;
  await publish(work, governanceEvents.orgCreated, {
    subjectId: orgId,
    orgId,
    data: { orgId, name: 'Acme', slug, ownerId: owner.id },
  });
  await publish(work, governanceEvents.memberAdded, {
    subjectId: orgId,
    orgId,
    data: { orgId, userId: owner.id, role: 'OWNER' },
  });
  const members: Partial<Record<OrgRole, TestUser>> = {};
  for (const role of roles) {
    const user = newUser(work);
    members[role] = user;
    await publish(work, governanceEvents.memberAdded, {
      subjectId: orgId,
      orgId,
      data: { orgId, userId: user.id, role },
    });
  }
  for (const user of [owner, ...Object.values(members)]) await untilMember(work, orgId, user.id);
  return { orgId, owner, ...members } as {
    orgId: string;
    owner: TestUser;
    ADMIN: TestUser;
    MANAGER: TestUser;
    MEMBER: TestUser;
    VIEWER: TestUser;
  };
}

export const api = (app: Express) => request(app);

let keySeq = 0;
export function uniqueKey(prefix = 'P'): string {
  keySeq += 1;
  return `${prefix}${keySeq}${randomUUID().replace(/-/g, '').slice(0, 4).toUpperCase()}`.slice(0, 10);
}

export async function createProject(work: Work, user: TestUser, body: Record<string, unknown>) {
  const res = await api(work.app).post('/api/v1/projects').set(user.auth).send(body);
  if (res.status !== 201) throw new Error(`create project failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: string; key: string; orgId: string };
}

/** Adds `userId` to the project with an explicit role, as `owner`; asserts the 201. */
export async function addMember(
  work: Work,
  owner: TestUser,
  projectId: string,
  userId: string,
  role: string,
) {
  const res = await api(work.app)
    .post(`/api/v1/projects/${projectId}/members`)
    .set(owner.auth)
    .send({ userId, role });
  assert.equal(res.status, 201, JSON.stringify(res.body));
}
