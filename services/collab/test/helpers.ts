import { randomBytes, randomUUID } from 'node:crypto';
import type { Express } from 'express';
import request from 'supertest';
import {
  collabEvents,
  createEvent,
  governanceEvents,
  MongoOutbox,
  workEvents,
  type EventConsumer,
  type EventDefinition,
  type EventEnvelope,
  type InternalClient,
  type MongoRuntime,
  type NewEvent,
  type OrgRole,
  type ProjectRole,
  type TeamRole,
} from '@trellis/shared';
import {
  mongoHarness,
  stack,
  taskEventData,
  testSigner,
  TopicReader,
  waitFor,
  waitForEvent,
  type Harness,
  type TestKafka,
} from '@trellis/shared/testing';
import { buildApp, buildServices } from '../src/app.ts';
import { collabConsumers, collabSubscriptions } from '../src/events/subscriptions.ts';
import { collabModels, initModels, outboxModels } from '../src/models.ts';

export const COLLAB_TOPICS = [
  ...new Set(Object.values(collabEvents).map((event) => event.topic)),
] as const satisfies readonly string[];

/**
 * Collab as main.ts wires it (outbox relay and consumer included) on a fresh database and topic
 * prefix, with a reader of everything it publishes.
 */
export async function startCollab(options: { governance?: InternalClient; work?: InternalClient } = {}) {
  const harness: Harness<MongoRuntime> = await mongoHarness('collab');
  const { connection, bus, readiness } = harness.runtime;
  const models = collabModels(connection);
  await initModels(models);
  await bus.ensureTopics([...COLLAB_TOPICS]);
  // A short grace, so the crash test's sweep confirms its orphaned write quickly.
  const outbox = new MongoOutbox({
    connection,
    bus,
    logger: harness.logger,
    models: outboxModels(models),
    graceMs: 200,
  });
  outbox.start();
  const signer = testSigner();
  const deps = {
    logger: harness.logger,
    readiness,
    connection,
    models,
    outbox,
    resolveKey: signer.resolveKey,
    isRevoked: harness.runtime.revocations.isRevoked,
    ...options,
  };
  const services = buildServices(deps);
  const app = buildApp(deps, services);
  const kafka: TestKafka = {
    brokers: stack.kafkaBrokers,
    topicPrefix: bus.prefix,
    partitions: bus.partitions,
    groupId: (name) => `${name}-${randomBytes(3).toString('hex')}`,
  };
  const reader = await TopicReader.start(kafka, [...COLLAB_TOPICS]);
  const consumers: EventConsumer[] = await Promise.all(
    collabConsumers(
      collabSubscriptions({
        projection: services.projection,
        inbox: services.inbox,
        channels: services.channels,
      }),
    ).map((options) => bus.consume(options)),
  );
  await Promise.all(consumers.map((consumer) => consumer.ready));
  const close = async () => {
    await reader.stop();
    for (const consumer of consumers) await consumer.stop();
    await outbox.stop();
    options.governance?.shutdown();
    options.work?.shutdown();
    await harness.close();
  };
  return { harness, app, connection, models, outbox, services, signer, reader, close };
}

export type Collab = Awaited<ReturnType<typeof startCollab>>;

export const api = (app: Express) => request(app);

export interface TestUser {
  id: string;
  auth: { Authorization: string };
}

export function newUser(collab: Collab): TestUser {
  const id = randomUUID();
  const token = collab.signer.sign({ sub: id, email: `u-${id.slice(0, 8)}@example.com` });
  return { id, auth: { Authorization: `Bearer ${token}` } };
}

/** Publishes an event as its owner would (through the bus, to this test's topics). */
export async function publish<D extends Record<string, unknown>>(
  collab: Collab,
  definition: EventDefinition<D>,
  event: NewEvent<D>,
): Promise<EventEnvelope<D>> {
  const source = definition.topic.split('.')[0] ?? 'test';
  const envelope = createEvent(definition, source, event);
  await collab.harness.runtime.bus.publish([{ topic: definition.topic, event: envelope }]);
  return envelope;
}

/** Waits for an event collab published, by type and a predicate on its data. */
export function published(
  collab: Collab,
  definition: EventDefinition,
  match: (data: Record<string, unknown>) => boolean = () => true,
): Promise<EventEnvelope> {
  return waitForEvent(
    collab.reader,
    definition.topic,
    (e) => e.type === definition.type && match(e.data),
    definition.type,
  );
}

const until = (what: string, probe: () => Promise<unknown>) =>
  waitFor(async () => Boolean(await probe()), { what });

export interface TestOrg {
  orgId: string;
  owner: TestUser;
  ADMIN: TestUser;
  MANAGER: TestUser;
  MEMBER: TestUser;
  VIEWER: TestUser;
}

/** An org known to collab only through governance events: its owner and one member per role. */
export async function orgWithRoles(collab: Collab, name = 'Acme'): Promise<TestOrg> {
  const orgId = randomUUID();
  const owner = newUser(collab);
  await publish(collab, governanceEvents.orgCreated, {
    subjectId: orgId,
    orgId,
    actorId: owner.id,
    data: { orgId, name, slug: `acme-${orgId.slice(0, 8)}`, ownerId: owner.id },
  });
  const members = { owner } as Record<string, TestUser>;
  for (const role of ['ADMIN', 'MANAGER', 'MEMBER', 'VIEWER'] as const) members[role] = newUser(collab);
  for (const [key, user] of Object.entries(members))
    await addOrgMember(collab, orgId, user, key === 'owner' ? 'OWNER' : (key as OrgRole));
  await until('the org', () => collab.services.projection.models.Org.findById(orgId).lean());
  return { orgId, ...members } as unknown as TestOrg;
}

export async function addOrgMember(collab: Collab, orgId: string, user: TestUser, role: OrgRole) {
  await publish(collab, governanceEvents.memberAdded, {
    subjectId: orgId,
    orgId,
    data: { orgId, userId: user.id, role },
  });
  await until(`${role} membership`, () => collab.services.projection.reader.org(orgId, user.id));
}

/** A team of the org (governance events) with explicit members. */
export async function teamOf(
  collab: Collab,
  org: TestOrg,
  members: [TestUser, TeamRole][] = [],
  name = 'Platform',
): Promise<{ teamId: string; name: string }> {
  const teamId = randomUUID();
  const { orgId } = org;
  await publish(collab, governanceEvents.teamCreated, {
    subjectId: teamId,
    orgId,
    actorId: org.owner.id,
    data: { orgId, teamId, name, description: null, ownerId: org.owner.id },
  });
  for (const [user, role] of members) {
    await publish(collab, governanceEvents.teamMemberAdded, {
      subjectId: teamId,
      orgId,
      data: { orgId, teamId, userId: user.id, role },
    });
  }
  await until('the team', () => collab.services.projection.models.Team.findById(teamId).lean());
  for (const [user] of members)
    await until('team membership', () =>
      collab.services.projection.models.TeamMember.findById(`${teamId}:${user.id}`).lean(),
    );
  return { teamId, name };
}

export interface ProjectOptions {
  name?: string;
  teamId?: string | null;
  visibility?: 'ORG' | 'PRIVATE';
  status?: 'ACTIVE' | 'PENDING_APPROVAL';
  members?: [TestUser, ProjectRole][];
}

export function projectData(org: TestOrg, projectId: string, options: ProjectOptions = {}) {
  return {
    projectId,
    orgId: org.orgId,
    teamId: options.teamId ?? null,
    name: options.name ?? 'Apollo',
    key: `P${projectId
      .slice(0, 4)
      .toUpperCase()
      .replace(/[^A-Z0-9]/g, 'X')}`,
    status: options.status ?? ('ACTIVE' as const),
    visibility: options.visibility ?? ('ORG' as const),
    ownerId: org.owner.id,
  };
}

/** A project of the org (work events) with explicit members. */
export async function projectOf(collab: Collab, org: TestOrg, options: ProjectOptions = {}) {
  const projectId = randomUUID();
  const data = projectData(org, projectId, options);
  await publish(collab, workEvents.projectCreated, {
    subjectId: projectId,
    orgId: org.orgId,
    actorId: org.owner.id,
    data,
  });
  for (const [user, role] of options.members ?? []) {
    await publish(collab, workEvents.projectMemberAdded, {
      subjectId: projectId,
      orgId: org.orgId,
      data: { projectId, orgId: org.orgId, userId: user.id, role },
    });
  }
  await until('the project', () => collab.services.projection.models.Project.findById(projectId).lean());
  for (const [user] of options.members ?? [])
    await until('project membership', () =>
      collab.services.projection.models.ProjectMember.findById(`${projectId}:${user.id}`).lean(),
    );
  return data;
}

export function taskData(project: { projectId: string; orgId: string; key: string }, reporterId: string) {
  return taskEventData({
    orgId: project.orgId,
    projectId: project.projectId,
    key: `${project.key}-1`,
    number: 1,
    title: 'Ship it',
    reporterId,
  });
}

/** A task of the project (work event). */
export async function taskOf(
  collab: Collab,
  project: { projectId: string; orgId: string; key: string },
  reporter: TestUser,
) {
  const data = taskData(project, reporter.id);
  await publish(collab, workEvents.taskCreated, {
    subjectId: data.taskId,
    orgId: project.orgId,
    actorId: reporter.id,
    data,
  });
  await until('the task', () => collab.services.projection.models.Task.findById(data.taskId).lean());
  return data;
}

/** Walks every page of a list, `limit` at a time, returning the ids in order. */
export async function walk(
  collab: Collab,
  user: TestUser,
  path: string,
  query: Record<string, string>,
  limit: number,
): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const res: { status: number; body: { items: { id: string }[]; nextCursor: string | null } } = await api(
      collab.app,
    )
      .get(path)
      .query({ ...query, limit: String(limit), ...(cursor ? { cursor } : {}) })
      .set(user.auth);
    if (res.status !== 200) throw new Error(`page failed: ${res.status} ${JSON.stringify(res.body)}`);
    if (res.body.items.length > limit) throw new Error('page larger than its limit');
    ids.push(...res.body.items.map((item) => item.id));
    cursor = res.body.nextCursor;
  } while (cursor);
  return ids;
}

/** Waits until collab's channel reactions have handled an event (its inbox record exists). */
export async function handledByChannels(collab: Collab, event: EventEnvelope): Promise<void> {
  const inbox = collab.harness.runtime.connection.collection('inbox');
  await until(`event ${event.type} handled`, () =>
    inbox.findOne({ _id: `collab-channels:${event.id}` as never }),
  );
}
