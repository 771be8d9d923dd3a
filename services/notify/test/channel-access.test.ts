import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { collabEvents, governanceEvents, InternalClient, listen } from '@trellis/shared';
import { stopServers, testLogger, waitFor } from '@trellis/shared/testing';
import { startNotify, testUser, type Notify, type TestUser } from './helpers.ts';

let notify: Notify;
let member: TestUser;
let outsider: TestUser;
const orgId = randomUUID();
// A local server stands in for collab's cluster-only `/internal/channels/{id}` (collab's own tests
// cover the real one): the channels collab has and notify has not heard of yet.
let standIn: Server;
const collabChannels = new Map<string, Record<string, unknown>>();
const asked: Array<string | undefined> = [];

/** What a subscribe to `chat:<channelId>` is told. */
const check = (user: TestUser, channelId: string) =>
  notify.services.channelAccess.check(user.id, `chat:${channelId}`, user.auth.Authorization);

/** What a subscribe to `chat:<channelId>` would be told, once it is `expected`. */
function waitForAnswer(user: TestUser, channelId: string, expected: string): Promise<unknown> {
  return waitFor(async () => (await check(user, channelId)) === expected, {
    what: `chat:${channelId} → ${expected}`,
  });
}

before(async () => {
  standIn = createServer((req, res) => {
    asked.push(req.headers.authorization);
    const channel = collabChannels.get(/^\/internal\/channels\/([^/]+)$/.exec(req.url ?? '')?.[1] ?? '');
    if (channel) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(channel));
    else res.writeHead(404, { 'content-type': 'application/problem+json' }).end('{}');
  });
  const port = await listen(standIn, 0, '127.0.0.1');
  const collab = new InternalClient({
    name: 'collab',
    baseUrl: `http://127.0.0.1:${port}`,
    logger: testLogger('collab'),
  });
  notify = await startNotify({ collab });
  [member, outsider] = [testUser(notify), testUser(notify)];
  await notify.publish(governanceEvents.orgCreated, 'governance', {
    subjectId: orgId,
    orgId,
    actorId: member.id,
    data: { orgId, name: 'Acme', slug: `acme-${orgId.slice(0, 8)}`, ownerId: member.id },
  });
  await notify.publish(governanceEvents.memberAdded, 'governance', {
    subjectId: orgId,
    orgId,
    data: { orgId, userId: member.id, role: 'OWNER' },
  });
});

after(async () => {
  await notify.close();
  await stopServers([standIn]);
});

describe('chat channel access', () => {
  test('a channel archived with its project and then restored can be subscribed to again', async () => {
    const channelId = randomUUID();
    const created = { channelId, orgId, scope: 'org' as const, scopeId: orgId, name: 'general' };
    const announce = () =>
      notify.publish(collabEvents.channelCreated, 'collab', { subjectId: channelId, orgId, data: created });

    await announce();
    await waitForAnswer(member, channelId, 'ok');
    assert.equal(await check(outsider, channelId), 'NOT_FOUND');

    await notify.publish(collabEvents.channelArchived, 'collab', {
      subjectId: channelId,
      orgId,
      data: { channelId, orgId, scope: 'org', scopeId: orgId },
    });
    await waitForAnswer(member, channelId, 'NOT_FOUND');

    // collab announces a restored channel as created anew (same id).
    await announce();
    await waitForAnswer(member, channelId, 'ok');
  });

  test('a channel notify has not heard of yet is looked up at collab, with the caller’s token', async () => {
    const channelId = randomUUID();
    collabChannels.set(channelId, { channelId, orgId, scope: 'org', scopeId: orgId, archived: false });
    assert.equal(await check(member, channelId), 'ok');
    assert.equal(asked.at(-1), member.auth.Authorization);
    assert.equal(
      await check(outsider, channelId),
      'NOT_FOUND',
      'collab knows it; the org does not know them',
    );
    const archived = randomUUID();
    collabChannels.set(archived, {
      channelId: archived,
      orgId,
      scope: 'org',
      scopeId: orgId,
      archived: true,
    });
    assert.equal(await check(member, archived), 'NOT_FOUND');
    assert.equal(await check(member, randomUUID()), 'NOT_FOUND', 'unknown to collab too');
  });
});
