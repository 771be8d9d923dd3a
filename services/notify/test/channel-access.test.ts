import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { collabEvents, governanceEvents } from '@trellis/shared';
import { waitFor } from '@trellis/shared/testing';
import { startNotify, testUser, type Notify, type TestUser } from './helpers.ts';

let notify: Notify;
let member: TestUser;
let outsider: TestUser;
const orgId = randomUUID();

/** What a subscribe to `chat:<channelId>` would be told, once it is `expected`. */
function waitForAnswer(user: TestUser, channelId: string, expected: string): Promise<unknown> {
  const ask = () =>
    notify.services.channelAccess.check(user.id, `chat:${channelId}`, user.auth.Authorization);
  return waitFor(async () => (await ask()) === expected, { what: `chat:${channelId} → ${expected}` });
}

before(async () => {
  notify = await startNotify();
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

after(() => notify.close());

describe('chat channel access', () => {
  test('a channel archived with its project and then restored can be subscribed to again', async () => {
    const channelId = randomUUID();
    const created = { channelId, orgId, scope: 'org' as const, scopeId: orgId, name: 'general' };
    const announce = () =>
      notify.publish(collabEvents.channelCreated, 'collab', { subjectId: channelId, orgId, data: created });

    await announce();
    await waitForAnswer(member, channelId, 'ok');
    assert.equal(
      await notify.services.channelAccess.check(
        outsider.id,
        `chat:${channelId}`,
        outsider.auth.Authorization,
      ),
      'NOT_FOUND',
    );

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
});
