import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { governanceEvents } from '@trellis/shared';
import { AccessMemo } from '../src/access/access-memo.ts';
import type { ProjectContext } from '../src/access/access.service.ts';
import {
  addMember,
  api,
  createProject,
  orgWithRoles,
  publish,
  startWork,
  uniqueKey,
  untilMember,
  type TestUser,
  type Work,
} from './helpers.ts';

const context = (role: string) => ({ role }) as unknown as ProjectContext;

test('AccessMemo: reuses a decision for its TTL, never one read before an invalidation', async () => {
  const memo = new AccessMemo({ ttlMs: 40 });
  const mark = memo.mark();
  memo.remember(mark, 'p', 'u', context('VIEWER'));
  assert.equal(memo.get('p', 'u')?.role, 'VIEWER');
  assert.equal(memo.get('p', 'other'), undefined);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(memo.get('p', 'u'), undefined, 'expired');

  // A lookup that began before an invalidation must not be remembered after it.
  const early = memo.mark();
  memo.invalidate();
  memo.remember(early, 'p', 'u', context('VIEWER'));
  assert.equal(memo.get('p', 'u'), undefined);

  // While a projection change is applied nothing is served or remembered; afterwards all is gone.
  memo.remember(memo.mark(), 'p', 'u', context('VIEWER'));
  let release!: () => void;
  const applying = memo.whileApplying(() => new Promise<void>((resolve) => (release = resolve)));
  assert.equal(memo.get('p', 'u'), undefined);
  memo.remember(memo.mark(), 'p', 'u', context('MANAGER'));
  release();
  await applying;
  assert.equal(memo.get('p', 'u'), undefined);

  const off = new AccessMemo({ ttlMs: 0 });
  off.remember(off.mark(), 'p', 'u', context('VIEWER'));
  assert.equal(off.get('p', 'u'), undefined);
});

test('AccessMemo: bounded, the oldest entry goes first', () => {
  const memo = new AccessMemo({ ttlMs: 10_000, maxEntries: 2 });
  for (const p of ['a', 'b', 'c']) memo.remember(memo.mark(), p, 'u', context(p));
  assert.equal(memo.get('a', 'u'), undefined);
  assert.equal(memo.get('b', 'u')?.role, 'b');
  assert.equal(memo.get('c', 'u')?.role, 'c');
});

let work: Work;

before(async () => {
  // A long TTL, so only invalidation can explain a fresh answer.
  work = await startWork({ accessCacheTtlMs: 1_000 });
});

after(() => work.close());

const listTasks = (user: TestUser, projectId: string) =>
  api(work.app).get(`/api/v1/projects/${projectId}/tasks`).set(user.auth);

test('a warm access memo never outlives a removal from the org, a visibility change or a project membership', async () => {
  const org = await orgWithRoles(work, ['MEMBER', 'VIEWER']);
  const project = await createProject(work, org.owner, {
    orgId: org.orgId,
    name: 'Memo',
    key: uniqueKey('M'),
  });

  // Removed from the org by governance: no access once the event is applied, memo or not.
  assert.equal((await listTasks(org.VIEWER, project.id)).status, 200);
  await publish(work, governanceEvents.memberRemoved, {
    subjectId: org.orgId,
    orgId: org.orgId,
    data: { orgId: org.orgId, userId: org.VIEWER.id, reason: 'removed' },
  });
  await untilMember(work, org.orgId, org.VIEWER.id, false);
  assert.equal((await listTasks(org.VIEWER, project.id)).status, 404);

  // An ORG-visible project made PRIVATE here: a plain member's VIEWER role goes at once.
  assert.equal((await listTasks(org.MEMBER, project.id)).status, 200);
  const patched = await api(work.app)
    .patch(`/api/v1/projects/${project.id}`)
    .set(org.owner.auth)
    .send({ visibility: 'PRIVATE' });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.equal((await listTasks(org.MEMBER, project.id)).status, 404);

  // An explicit project member removed here loses the project at once.
  await addMember(work, org.owner, project.id, org.MEMBER.id, 'CONTRIBUTOR');
  assert.equal((await listTasks(org.MEMBER, project.id)).status, 200);
  const removed = await api(work.app)
    .delete(`/api/v1/projects/${project.id}/members/${org.MEMBER.id}`)
    .set(org.owner.auth);
  assert.equal(removed.status, 204, JSON.stringify(removed.body));
  assert.equal((await listTasks(org.MEMBER, project.id)).status, 404);
});
