import { randomBytes, randomUUID } from 'node:crypto';
import type { Express } from 'express';
import request from 'supertest';
import type { OrgRole } from '@trellis/shared';
import { postgresHarness, stack, testSigner, TopicReader, type TestKafka } from '@trellis/shared/testing';
import { buildApp, buildServices } from '../src/app.ts';
import { migrations } from '../src/migrations/index.ts';
import { defineModels } from '../src/models.ts';

/** Governance as main.ts wires it, on a fresh database and topic prefix. */
export async function startGovernance() {
  const harness = await postgresHarness('governance', migrations);
  const { sequelize, outbox, bus, readiness } = harness.runtime;
  const models = defineModels(sequelize);
  const signer = testSigner();
  const deps = {
    logger: harness.logger,
    readiness,
    sequelize,
    models,
    outbox,
    resolveKey: signer.resolveKey,
    isRevoked: harness.runtime.revocations.isRevoked,
  };
  const services = buildServices(deps);
  const app = buildApp(deps, services);
  const kafka: TestKafka = {
    brokers: stack.kafkaBrokers,
    topicPrefix: bus.prefix,
    partitions: bus.partitions,
    groupId: (name) => `${name}-${randomBytes(3).toString('hex')}`,
  };
  return { harness, app, models, services, signer, kafka, close: () => harness.close() };
}

export type Governance = Awaited<ReturnType<typeof startGovernance>>;

export interface TestUser {
  id: string;
  email: string;
  name: string;
  auth: { Authorization: string };
}

/**
 * A signed-in user known to the directory (as if identity's user.registered had arrived). The
 * directory test publishes the real event instead.
 */
export async function newUser(gov: Governance, name = 'Ada Lovelace'): Promise<TestUser> {
  const id = randomUUID();
  const email = `${name.split(' ')[0]!.toLowerCase()}-${id.slice(0, 8)}@example.com`;
  await gov.harness.runtime.sequelize.transaction((tx) =>
    gov.services.directory.upsert(tx, { userId: id, email, name }),
  );
  return { id, email, name, auth: { Authorization: `Bearer ${gov.signer.sign({ sub: id, email })}` } };
}

export async function createOrg(
  gov: Governance,
  owner: TestUser,
  body: { name: string; slug?: string } = { name: `Acme ${randomUUID().slice(0, 6)}` },
) {
  const res = await request(gov.app).post('/api/v1/orgs').set(owner.auth).send(body);
  if (res.status !== 201) throw new Error(`create org failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: string; name: string; slug: string; ownerId: string; version: number };
}

/** Adds a member the way an accepted invitation will (invitations come with a later change). */
export async function addMember(
  gov: Governance,
  orgId: string,
  user: TestUser,
  role: OrgRole,
  actorId: string,
) {
  await gov.harness.runtime.sequelize.transaction((transaction) =>
    gov.services.members.add(transaction, { orgId, userId: user.id, role, actorId }),
  );
}

/** An org with an owner and one member per lower role. */
export async function orgWithRoles(gov: Governance) {
  const owner = await newUser(gov, 'Olive Owner');
  const admin = await newUser(gov, 'Adam Admin');
  const manager = await newUser(gov, 'Mona Manager');
  const member = await newUser(gov, 'Max Member');
  const viewer = await newUser(gov, 'Vera Viewer');
  const org = await createOrg(gov, owner);
  await addMember(gov, org.id, admin, 'ADMIN', owner.id);
  await addMember(gov, org.id, manager, 'MANAGER', owner.id);
  await addMember(gov, org.id, member, 'MEMBER', owner.id);
  await addMember(gov, org.id, viewer, 'VIEWER', owner.id);
  return { org, owner, admin, manager, member, viewer };
}

export async function readTopics(gov: Governance, topics: string[]): Promise<TopicReader> {
  await gov.harness.runtime.bus.ensureTopics(topics);
  return TopicReader.start(gov.kafka, topics);
}

export { envelopes, waitForEvent } from '@trellis/shared/testing';

export const api = (app: Express) => request(app);
