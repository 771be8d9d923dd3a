import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import {
  createEvent,
  governanceEvents,
  identityEvents,
  workEvents,
  type EventConsumer,
  type EventDefinition,
  type MongoRuntime,
  type NewEvent,
} from '@trellis/shared';
import { mongoHarness, stack, testSigner, waitFor, type Harness } from '@trellis/shared/testing';
import { buildApp, buildServices, type AppDeps } from '../src/app.ts';
import { notifyConsumers } from '../src/events/subscriptions.ts';
import { createMailer } from '../src/mail/mailer.ts';
import type { WebhookSettings } from '../src/webhooks/webhooks.module.ts';

/** Webhook settings for tests: plain http to this host, and a short schedule. */
export const TEST_WEBHOOKS: WebhookSettings = {
  policy: { allowHttp: true, allowPrivateNetworks: true },
  schedule: [200, 400, 800],
  timeoutMs: 2_000,
  maxFailures: 50,
  maxFailingMs: 86_400_000,
  perWebhook: 4,
  global: 64,
  pollMs: 100,
  visibilityWaitMs: 5_000,
  secretOverlapMs: 86_400_000,
  retentionDays: 30,
  outboxSweepIntervalMs: 500,
};

/** Notify as main.ts wires it (both consumers and the hub), on a fresh database and topic prefix. */
export async function startNotify(
  options: Partial<
    Pick<AppDeps, 'governance' | 'work' | 'collab' | 'realtime' | 'webhooks' | 'mailQueue'>
  > = {},
) {
  const harness: Harness<MongoRuntime> = await mongoHarness('notify');
  const { connection, bus, readiness } = harness.runtime;
  const signer = testSigner();
  const mailer = createMailer({
    SMTP_HOST: stack.smtpHost,
    SMTP_PORT: stack.smtpPort,
    SMTP_SECURE: false,
    SMTP_FROM: 'Trellis <no-reply@trellis.local>',
  });
  const deps: AppDeps = {
    logger: harness.logger,
    readiness,
    connection,
    bus,
    mailer,
    resolveKey: signer.resolveKey,
    isRevoked: harness.runtime.revocations.isRevoked,
    appUrl: 'https://app.trellis.test',
    webhooks: TEST_WEBHOOKS,
    ...options,
  };
  const services = await buildServices(deps);
  const app = buildApp(deps, services);
  await services.realtime.start();
  services.webhooks.start();
  services.mailQueue.start();
  const consumers: EventConsumer[] = await Promise.all(
    [...notifyConsumers(services.subscriptions), services.webhooks.consumer()].map((options) =>
      bus.consume(options),
    ),
  );
  await Promise.all(consumers.map((c) => c.ready));
  await waitFor(() => services.realtime.membership().joined, { what: 'the hub in its source group' });
  const close = async () => {
    await services.realtime.stop();
    await Promise.all(consumers.map((c) => c.stop()));
    await services.webhooks.stop();
    await services.mailQueue.stop();
    mailer.close();
    await harness.close();
  };
  /** Publishes an event the way its owner would (through Kafka, with the envelope it would build). */
  const publish = async <D extends Record<string, unknown>>(
    definition: EventDefinition<D>,
    source: string,
    event: Omit<NewEvent<D>, 'subjectId'> & { subjectId?: string },
  ) => {
    const envelope = createEvent(definition, source, { subjectId: randomUUID(), ...event });
    await bus.publish([{ topic: definition.topic, event: envelope }]);
    return envelope;
  };
  return { harness, app, services, signer, mailer, publish, close };
}

export type Notify = Awaited<ReturnType<typeof startNotify>>;

export interface TestUser {
  id: string;
  email: string;
  auth: { Authorization: string };
}

export function testUser(notify: Notify): TestUser {
  const id = randomUUID();
  const email = `u-${randomBytes(5).toString('hex')}@example.test`;
  return { id, email, auth: { Authorization: `Bearer ${notify.signer.sign({ sub: id, email })}` } };
}

export const api = (notify: Notify) => request(notify.app);

/** Users, an org and its members as identity and governance would announce them. */
export async function seedOrg(
  notify: Notify,
  org: {
    orgId: string;
    name: string;
    members: [TestUser, string, 'OWNER' | 'ADMIN' | 'MEMBER' | 'VIEWER'][];
  },
): Promise<void> {
  const owner = org.members.find(([, , role]) => role === 'OWNER')?.[0];
  if (!owner) throw new Error('an org has an OWNER');
  for (const [user, name] of org.members)
    await notify.publish(identityEvents.userRegistered, 'identity', {
      subjectId: user.id,
      data: { userId: user.id, email: user.email, name },
    });
  await notify.publish(governanceEvents.orgCreated, 'governance', {
    subjectId: org.orgId,
    orgId: org.orgId,
    actorId: owner.id,
    data: { orgId: org.orgId, name: org.name, slug: `org-${org.orgId.slice(0, 8)}`, ownerId: owner.id },
  });
  for (const [user, , role] of org.members)
    await notify.publish(governanceEvents.memberAdded, 'governance', {
      subjectId: org.orgId,
      orgId: org.orgId,
      data: { orgId: org.orgId, userId: user.id, role },
    });
}

/** A project as work would announce its creation. */
export function seedProject(
  notify: Notify,
  p: {
    projectId: string;
    orgId: string;
    ownerId: string;
    name: string;
    key: string;
    visibility?: 'ORG' | 'PRIVATE';
  },
) {
  return notify.publish(workEvents.projectCreated, 'work', {
    subjectId: p.projectId,
    orgId: p.orgId,
    actorId: p.ownerId,
    data: {
      projectId: p.projectId,
      orgId: p.orgId,
      teamId: null,
      name: p.name,
      key: p.key,
      status: 'ACTIVE',
      visibility: p.visibility ?? 'ORG',
      ownerId: p.ownerId,
    },
  });
}
