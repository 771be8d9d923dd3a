import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { governanceEvents, workEvents } from '@trellis/shared';
import { assertProblem, mailsTo, taskEventData, waitFor, WebhookReceiver } from '@trellis/shared/testing';
import { WebhookDispatcher } from '../src/webhooks/dispatcher.ts';
import {
  api,
  seedOrg,
  seedProject,
  startNotify,
  TEST_WEBHOOKS,
  testUser,
  type Notify,
  type TestUser,
} from './helpers.ts';

let notify: Notify;
let receiver: WebhookReceiver;
let base: string;
let owner: TestUser;
let admin: TestUser;
let member: TestUser;
let stranger: TestUser;
const orgId = randomUUID();
const otherOrgId = randomUUID();
const projectId = randomUUID();

async function createWebhook(
  path: string,
  events: string[],
  user = admin,
): Promise<{ id: string; secret: string }> {
  const res = await api(notify)
    .post(`/api/v1/orgs/${orgId}/webhooks`)
    .set(user.auth)
    .send({ url: `${base}${path}`, events });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  receiver.secrets.set(path, res.body.secret);
  return res.body;
}

let taskNumber = 0;
async function publishTask(type: 'created' | 'updated', taskId: string, over: Record<string, unknown> = {}) {
  taskNumber += 1;
  const data = {
    ...taskEventData({
      orgId,
      projectId,
      key: `CORE-${taskNumber}`,
      number: taskNumber,
      title: `Task ${taskNumber}`,
      reporterId: owner.id,
    }),
    taskId,
    ...over,
  };
  return type === 'created'
    ? notify.publish(workEvents.taskCreated, 'work', { subjectId: taskId, orgId, actorId: owner.id, data })
    : notify.publish(workEvents.taskUpdated, 'work', {
        subjectId: taskId,
        orgId,
        actorId: owner.id,
        data: { ...data, changes: { title: { from: 'a', to: data.title } } } as never,
      });
}

before(async () => {
  notify = await startNotify({ webhooks: { ...TEST_WEBHOOKS, maxFailures: 6 } });
  receiver = new WebhookReceiver();
  base = await receiver.start();
  [owner, admin, member, stranger] = [testUser(notify), testUser(notify), testUser(notify), testUser(notify)];
  await seedOrg(notify, {
    orgId,
    name: 'Acme',
    members: [
      [owner, 'Olga Owner', 'OWNER'],
      [admin, 'Ada Admin', 'ADMIN'],
      [member, 'Max Member', 'MEMBER'],
    ],
  });
  await seedOrg(notify, { orgId: otherOrgId, name: 'Other', members: [[stranger, 'Sam Stranger', 'OWNER']] });
  await seedProject(notify, { projectId: projectId, orgId, ownerId: owner.id, name: 'Core', key: 'CORE' });
  await waitFor(() => notify.services.projection.reader.project(projectId, member.id), {
    what: 'the projection',
  });
  await waitFor(() => notify.services.projection.reader.org(otherOrgId, stranger.id), {
    what: 'the other org',
  });
});

after(async () => {
  await notify.close();
  await receiver.close();
});

describe('webhooks', () => {
  test('a MEMBER is denied by the policy, another org’s member gets 404, bad input 400/422', async () => {
    const denied = await api(notify)
      .post(`/api/v1/orgs/${orgId}/webhooks`)
      .set(member.auth)
      .send({ url: `${base}/x`, events: ['*'] });
    assertProblem(denied, 403, 'POLICY_DENIED');
    assert.deepEqual(denied.body.policy, {
      scope: 'org',
      action: 'webhook.manage',
      requiredRole: 'ADMIN',
      yourRole: 'MEMBER',
    });
    const outsider = await api(notify).get(`/api/v1/orgs/${orgId}/webhooks`).set(stranger.auth);
    assertProblem(outsider, 404, 'NOT_FOUND');
    const { id } = await createWebhook('/scoped', ['org.*']);
    assertProblem(await api(notify).get(`/api/v1/webhooks/${id}`).set(stranger.auth), 404, 'NOT_FOUND');
    assertProblem(await api(notify).delete(`/api/v1/webhooks/${id}`).set(stranger.auth), 404, 'NOT_FOUND');
    const unknownType = await api(notify)
      .post(`/api/v1/orgs/${orgId}/webhooks`)
      .set(admin.auth)
      .send({ url: `${base}/x`, events: ['tsak.*'] });
    assertProblem(unknownType, 422, 'VALIDATION_FAILED');
    const badPattern = await api(notify)
      .post(`/api/v1/orgs/${orgId}/webhooks`)
      .set(admin.auth)
      .send({ url: `${base}/x`, events: ['task.**'] });
    assertProblem(badPattern, 400, 'VALIDATION_FAILED');
    // Never the secret after creation.
    const got = await api(notify).get(`/api/v1/webhooks/${id}`).set(admin.auth);
    assert.equal(got.status, 200);
    assert.equal(got.body.secret, undefined);
    assert.ok(!JSON.stringify(got.body).includes('whsec_'));
  });

  test('each subscribed event arrives once, verified, in order per task; the feed lists the same ids', async () => {
    const hook = await createWebhook('/ok', ['task.*']);
    const tasks = [randomUUID(), randomUUID()];
    const sent: string[] = [];
    for (const taskId of tasks) sent.push((await publishTask('created', taskId)).id);
    for (let round = 0; round < 3; round += 1)
      for (const taskId of tasks) sent.push((await publishTask('updated', taskId)).id);
    // An event the webhook does not take.
    await notify.publish(governanceEvents.orgUpdated, 'governance', {
      subjectId: orgId,
      orgId,
      data: { orgId, name: 'Acme 2', slug: 'acme', ownerId: owner.id },
    });
    await waitFor(() => receiver.at('/ok').length >= sent.length, { what: 'every delivery' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const got = receiver.at('/ok');
    assert.deepEqual(got.map((r) => r.event.id).sort(), [...sent].sort(), 'each event exactly once');
    for (const taskId of tasks) {
      const order = got.filter((r) => r.event.subject.id === taskId).map((r) => r.event.id);
      assert.deepEqual(
        order,
        sent.filter((id) => order.includes(id)),
        `in order for ${taskId}`,
      );
      assert.equal(order.length, 4);
    }
    for (const r of got)
      assert.deepEqual(Object.keys(r.event).sort(), [
        'actorId',
        'data',
        'id',
        'occurredAt',
        'orgId',
        'subject',
        'type',
      ]);

    const log = await api(notify)
      .get(`/api/v1/webhooks/${hook.id}/deliveries?state=SUCCEEDED&limit=100`)
      .set(admin.auth);
    assert.equal(log.status, 200);
    assert.equal(log.body.items.length, sent.length);

    // The feed, read from the start in pages of 3, lists the same task events.
    const feed: string[] = [];
    let after: string | undefined;
    for (let page = 0; page < 20; page += 1) {
      const res = await api(notify)
        .get(`/api/v1/orgs/${orgId}/events`)
        .query({ types: 'task.*', limit: 3, ...(after ? { after } : {}) })
        .set(admin.auth);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      feed.push(...res.body.items.map((e: { id: string }) => e.id));
      after = res.body.position;
      if (!res.body.nextCursor) {
        assert.equal(res.headers.link, undefined);
        break;
      }
      // api.md §1: the next page's link, relative to the request, with the cursor in `after`.
      const next = new URL(/^<([^>]+)>; rel="next"$/.exec(res.headers.link ?? '')?.[1] ?? '', 'http://x');
      assert.equal(next.pathname, `/api/v1/orgs/${orgId}/events`);
      assert.equal(next.searchParams.get('after'), res.body.nextCursor);
      assert.equal(next.searchParams.get('types'), 'task.*');
    }
    assert.deepEqual(
      feed,
      got
        .map((r) => r.event.id)
        .filter((id) => feed.includes(id))
        .sort((a, b) => feed.indexOf(a) - feed.indexOf(b)),
    );
    assert.deepEqual([...feed].sort(), [...sent].sort());
    // Nothing new after the last position.
    const tail = await api(notify).get(`/api/v1/orgs/${orgId}/events`).query({ after }).set(admin.auth);
    assert.deepEqual(tail.body.items, []);
    assertProblem(
      await api(notify).get(`/api/v1/orgs/${orgId}/events`).set(member.auth),
      403,
      'POLICY_DENIED',
    );
  });

  test('500 three times then 200: the 4th attempt succeeds, the log shows all 4, redeliver keeps the webhook-id', async () => {
    receiver.script('/flaky', [500, 500, 500, 200]);
    const hook = await createWebhook('/flaky', ['task.created']);
    const event = await publishTask('created', randomUUID());
    await waitFor(() => receiver.at('/flaky').some((r) => r.answered === 200), {
      what: 'the 4th attempt',
      timeoutMs: 20_000,
    });
    const got = receiver.at('/flaky');
    assert.deepEqual(
      got.map((r) => r.answered),
      [500, 500, 500, 200],
    );
    assert.ok(got.every((r) => r.event.id === event.id && r.id === got[0]?.id));
    const delivery = await waitFor(async () => {
      const res = await api(notify).get(`/api/v1/webhooks/${hook.id}/deliveries`).set(admin.auth);
      const item = res.body.items[0];
      return item?.state === 'SUCCEEDED' ? item : undefined;
    });
    assert.deepEqual(
      delivery.attempts.map((a: { status: number }) => a.status),
      [500, 500, 500, 200],
    );
    assert.equal(delivery.id, got[0]?.id);

    const again = await api(notify)
      .post(`/api/v1/webhooks/${hook.id}/deliveries/${delivery.id}/redeliver`)
      .set(admin.auth);
    assert.equal(again.status, 202);
    await waitFor(() => receiver.at('/flaky').length === 5, { what: 'the redelivery' });
    assert.equal(receiver.at('/flaky')[4]?.id, delivery.id);
  });

  test('a receiver that never answers 2xx ends disabled, and the ADMINs are told in-app and by mail', async () => {
    receiver.script('/down', [503]);
    const hook = await createWebhook('/down', ['task.created']);
    await publishTask('created', randomUUID());
    await publishTask('created', randomUUID());
    const disabled = await waitFor(
      async () => {
        const res = await api(notify).get(`/api/v1/webhooks/${hook.id}`).set(admin.auth);
        return res.body.active === false ? res.body : undefined;
      },
      { what: 'the webhook disabled', timeoutMs: 20_000 },
    );
    assert.match(disabled.disabledReason, /failed attempts in a row/);
    for (const user of [owner, admin]) {
      await waitFor(
        async () => {
          const res = await api(notify).get('/api/v1/notifications').set(user.auth);
          return res.body.items.find(
            (n: { type: string; subject: { id: string } }) =>
              n.type === 'webhook.disabled' && n.subject.id === hook.id,
          );
        },
        { what: `webhook.disabled for ${user.email}` },
      );
      await waitFor(
        async () => (await mailsTo(user.email)).find((m) => /Webhook to .* was disabled/.test(m.subject)),
        {
          what: `the mail to ${user.email}`,
        },
      );
    }
    const toMember = await api(notify).get('/api/v1/notifications').set(member.auth);
    assert.ok(!toMember.body.items.some((n: { type: string }) => n.type === 'webhook.disabled'));
    // Turned on again by hand, it receives again.
    receiver.script('/down', [200]);
    const on = await api(notify).patch(`/api/v1/webhooks/${hook.id}`).set(admin.auth).send({ active: true });
    assert.equal(on.status, 200);
    assert.equal(on.body.disabledReason, null);
  });

  test('a dispatcher stopped mid-schedule: another (and a second at once) completes it, no attempt sent twice', async () => {
    receiver.script('/restart', [500, 500, 200]);
    const hook = await createWebhook('/restart', ['task.created']);
    const first = notify.services.webhooks.dispatcher;
    await publishTask('created', randomUUID());
    await waitFor(() => receiver.at('/restart').length >= 1, { what: 'the first attempt' });
    await first.stop();
    const replica = () =>
      new WebhookDispatcher({
        models: notify.services.webhooks.models,
        settings: { ...TEST_WEBHOOKS },
        visibility: notify.services.webhooks.visibility,
        logger: notify.harness.logger,
        onDisable: async () => undefined,
      });
    const [a, b] = [replica(), replica()];
    a.start();
    b.start();
    try {
      await waitFor(() => receiver.at('/restart').some((r) => r.answered === 200), {
        what: 'the success',
        timeoutMs: 20_000,
      });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      assert.deepEqual(
        receiver.at('/restart').map((r) => r.answered),
        [500, 500, 200],
      );
      const log = await api(notify).get(`/api/v1/webhooks/${hook.id}/deliveries`).set(admin.auth);
      assert.deepEqual(
        log.body.items[0].attempts.map((x: { status: number }) => x.status),
        [500, 500, 200],
      );
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      first.start();
    }
  });

  test('a creator demoted to MEMBER gets no event of a private project; the feed hides them from them too', async () => {
    const roleChange = (from: 'ADMIN' | 'MEMBER', to: 'ADMIN' | 'MEMBER') =>
      notify.publish(governanceEvents.memberRoleChanged, 'governance', {
        subjectId: orgId,
        orgId,
        data: { orgId, userId: member.id, from, to },
      });
    const secretProject = randomUUID();
    await seedProject(notify, {
      projectId: secretProject,
      orgId,
      ownerId: owner.id,
      name: 'Secret',
      key: 'SEC',
      visibility: 'PRIVATE',
    });
    await roleChange('MEMBER', 'ADMIN');
    // An ADMIN is a MANAGER of every project, private ones included (product.md §2).
    await waitFor(() => notify.services.projection.reader.project(secretProject, member.id), {
      what: 'the promotion',
    });
    const hook = await createWebhook('/member', ['task.created'], member);
    await roleChange('ADMIN', 'MEMBER');
    await waitFor(
      async () => (await notify.services.projection.reader.project(secretProject, member.id)) === null,
      {
        what: 'the demotion',
      },
    );
    const hidden = randomUUID();
    await publishTask('created', hidden, { projectId: secretProject });
    const shown = await publishTask('created', randomUUID());
    await waitFor(() => receiver.at('/member').some((r) => r.event.id === shown.id), {
      what: 'the visible event',
    });
    const failed = await waitFor(
      async () => {
        const res = await api(notify)
          .get(`/api/v1/webhooks/${hook.id}/deliveries?state=FAILED`)
          .set(owner.auth);
        return res.body.items[0];
      },
      { what: 'the hidden delivery, failed' },
    );
    assert.equal(failed.attempts[0].error, 'not visible to the webhook creator');
    assert.ok(!receiver.at('/member').some((r) => r.event.subject.id === hidden));
    const feedOf = async (user: TestUser) =>
      (
        await api(notify).get(`/api/v1/orgs/${orgId}/events?types=task.created&limit=200`).set(user.auth)
      ).body.items?.map((e: { subject: { id: string } }) => e.subject.id) ?? [];
    assert.ok((await feedOf(owner)).includes(hidden), 'in the OWNER’s feed');
    // The MEMBER may no longer read the feed at all (webhook.manage).
    assertProblem(
      await api(notify).get(`/api/v1/orgs/${orgId}/events`).set(member.auth),
      403,
      'POLICY_DENIED',
    );
  });

  test('an org has at most 25 webhooks (409 beyond); deleting one makes room', async () => {
    const create = () =>
      api(notify)
        .post(`/api/v1/orgs/${otherOrgId}/webhooks`)
        .set(stranger.auth)
        .send({ url: `${base}/many`, events: ['task.*'] });
    const made: string[] = [];
    for (let i = 0; i < 25; i += 1) {
      const res = await create();
      assert.equal(res.status, 201, JSON.stringify(res.body));
      made.push(res.body.id);
    }
    assertProblem(await create(), 409, 'CONFLICT');
    await api(notify).delete(`/api/v1/webhooks/${made[0]}`).set(stranger.auth).expect(204);
    assert.equal((await create()).status, 201);
  });

  test('ping, rotation (both secrets sign for the overlap), delete', async () => {
    const hook = await createWebhook('/rotate', ['org.*']);
    const oldSecret = receiver.secrets.get('/rotate') as string;
    const rotated = await api(notify).post(`/api/v1/webhooks/${hook.id}/rotate-secret`).set(admin.auth);
    assert.equal(rotated.status, 200);
    assert.notEqual(rotated.body.secret, oldSecret);
    const ping = await api(notify).post(`/api/v1/webhooks/${hook.id}/ping`).set(admin.auth);
    assert.equal(ping.status, 202);
    // Verified with the old secret (the receiver's), and with the new one too.
    const got = await waitFor(() => receiver.at('/rotate').find((r) => r.event.type === 'webhook.ping'));
    assert.equal(got.id, ping.body.id);
    receiver.secrets.set('/rotate', rotated.body.secret);
    await api(notify).post(`/api/v1/webhooks/${hook.id}/ping`).set(admin.auth).expect(202);
    await waitFor(() => receiver.at('/rotate').filter((r) => r.event.type === 'webhook.ping').length === 2);
    assert.equal((await api(notify).delete(`/api/v1/webhooks/${hook.id}`).set(admin.auth)).status, 204);
    assertProblem(await api(notify).get(`/api/v1/webhooks/${hook.id}`).set(admin.auth), 404, 'NOT_FOUND');
  });
});

describe('webhook targets without the allow flags', () => {
  let strict: Notify;
  let boss: TestUser;
  const strictOrg = randomUUID();

  before(async () => {
    strict = await startNotify({
      webhooks: { ...TEST_WEBHOOKS, policy: { allowHttp: false, allowPrivateNetworks: false } },
    });
    boss = testUser(strict);
    await strict.publish(governanceEvents.memberAdded, 'governance', {
      subjectId: strictOrg,
      orgId: strictOrg,
      data: { orgId: strictOrg, userId: boss.id, role: 'OWNER' },
    });
    await waitFor(() => strict.services.projection.reader.org(strictOrg, boss.id), {
      what: 'the membership',
    });
  });

  after(() => strict.close());

  for (const url of [
    'http://127.0.0.1:9/hook',
    'http://169.254.169.254/latest',
    'https://127.0.0.1/hook',
    'https://[::1]/x',
    'https://169.254.169.254/latest',
    'https://localhost/x',
    'https://10.1.2.3/',
  ])
    test(`refuses ${url} (422)`, async () => {
      const res = await api(strict)
        .post(`/api/v1/orgs/${strictOrg}/webhooks`)
        .set(boss.auth)
        .send({ url, events: ['*'] });
      assertProblem(res, 422, 'VALIDATION_FAILED');
      assert.equal(res.body.errors[0].path, 'body.url');
    });
});
