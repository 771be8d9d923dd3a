import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Person } from './support/people.ts';
import { RoleWorld, type RoleProject } from './support/roles.ts';

/**
 * Issue 20: every way a project role comes to exist — creation by a MEMBER, an ownership
 * transfer, an explicit membership and its changes, the org role — gives the same effective role
 * in work (`myRole`), collab (comments, channels) and notify (subscriptions, notifications), for
 * ORG and PRIVATE projects. Teams, restore and approvals: project-roles-lifecycle.test.ts.
 */
describe('project roles agree across work, collab and notify: creation, transfer, members, org roles', () => {
  let world: RoleWorld;
  let admin: Person, creator: Person, heir: Person, explicit: Person, member: Person;
  const both = ['ORG', 'PRIVATE'] as const;
  /** The projects a plain MEMBER created, by visibility (the org-role cases reuse them). */
  const created: Partial<Record<(typeof both)[number], RoleProject>> = {};

  let close: (() => Promise<void>) | undefined;

  before(async () => {
    let people: Person[];
    ({ world, people, close } = await RoleWorld.start(
      ['Ada Admin'],
      ['Mia Creator', 'Hal Heir', 'Eve Explicit', 'Max Member'],
    ));
    [admin, creator, heir, explicit, member] = people as [Person, Person, Person, Person, Person];
  });

  after(() => close?.());

  test('a MEMBER who creates a project (org threshold project.create = MEMBER) is its OWNER everywhere', async () => {
    for (const visibility of both) {
      const project = await world.project(creator, `CR${visibility[0]}`, visibility);
      created[visibility] = project;
      await world.all(project, [
        [creator, 'OWNER'],
        [member, visibility === 'ORG' ? 'VIEWER' : null],
      ]);
      await world.notified(creator, project);
    }
  });

  test('an ownership transfer: the new owner is OWNER, the former one MANAGER, everywhere', async () => {
    for (const visibility of both) {
      const project = await world.project(creator, `XF${visibility[0]}`, visibility);
      const added = await world.api.post(
        `/projects/${project.id}/members`,
        { userId: heir.id, role: 'CONTRIBUTOR' },
        creator.token,
      );
      assert.equal(added.status, 201, JSON.stringify(added.body));
      await world.agree(heir, project, 'CONTRIBUTOR');
      const moved = await world.api.post<{ ownerId: string; myRole: string }>(
        `/projects/${project.id}/transfer-ownership`,
        { userId: heir.id },
        creator.token,
      );
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
      assert.equal(moved.body.ownerId, heir.id);
      assert.equal(moved.body.myRole, 'MANAGER');
      await world.all(project, [
        [heir, 'OWNER'],
        [creator, 'MANAGER'],
        [member, visibility === 'ORG' ? 'VIEWER' : null],
      ]);
      await world.notified(heir, project);
      await world.notified(creator, project);
    }
  });

  test('an explicit member: added, their role changed up and down, then removed', async () => {
    for (const visibility of both) {
      const project = await world.project(world.owner, `EX${visibility[0]}`, visibility);
      const path = `/projects/${project.id}/members`;
      await world.agree(explicit, project, visibility === 'ORG' ? 'VIEWER' : null);
      const added = await world.api.post(
        path,
        { userId: explicit.id, role: 'CONTRIBUTOR' },
        world.owner.token,
      );
      assert.equal(added.status, 201, JSON.stringify(added.body));
      await world.agree(explicit, project, 'CONTRIBUTOR');
      await world.notified(explicit, project);
      for (const role of ['LEAD', 'VIEWER', 'MANAGER'] as const) {
        const changed = await world.api.patch(`${path}/${explicit.id}`, { role }, world.owner.token);
        assert.equal(changed.status, 200, JSON.stringify(changed.body));
        await world.agree(explicit, project, role);
        // Still their task: a VIEWER assignee sees it, and hears of it.
        if (role === 'VIEWER') await world.toldOfStatus(explicit, project, 'IN_REVIEW', admin, true);
      }
      const removed = await world.api.delete(`${path}/${explicit.id}`, world.owner.token);
      assert.equal(removed.status, 204, JSON.stringify(removed.body));
      await world.agree(explicit, project, visibility === 'ORG' ? 'VIEWER' : null);
      await world.toldOfStatus(explicit, project, 'DONE', admin, visibility === 'ORG');
    }
  });

  test('the org role: an ADMIN is MANAGER, a MEMBER VIEWER on ORG projects and nothing on PRIVATE ones; a role change follows', async () => {
    for (const visibility of both) {
      const project = created[visibility];
      assert.ok(project, 'made by the first test');
      await world.all(project, [
        [admin, 'MANAGER'],
        [world.owner, 'OWNER'],
        [member, visibility === 'ORG' ? 'VIEWER' : null],
      ]);
      await world.notified(admin, project);
    }
    const promote = async (role: string) => {
      const res = await world.api.patch(
        `/orgs/${world.orgId}/members/${member.id}`,
        { role },
        world.owner.token,
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
    };
    await promote('ADMIN');
    for (const visibility of both) {
      const project = created[visibility] as RoleProject;
      await world.agree(member, project, 'MANAGER');
      await world.notified(member, project);
    }
    await promote('MANAGER');
    for (const visibility of both) {
      const project = created[visibility] as RoleProject;
      await world.agree(member, project, visibility === 'ORG' ? 'VIEWER' : null);
      await world.toldOfStatus(member, project, 'DONE', admin, visibility === 'ORG');
    }
  });

  test("a project's visibility decides whether the org's plain members see it (PRIVATE → ORG → PRIVATE)", async () => {
    const project = created.PRIVATE as RoleProject;
    assert.ok(project.id, 'made by the first test');
    for (const visibility of ['ORG', 'PRIVATE'] as const) {
      const res = await world.api.patch(`/projects/${project.id}`, { visibility }, creator.token);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      project.visibility = visibility;
      await world.all(project, [
        [member, visibility === 'ORG' ? 'VIEWER' : null],
        [creator, 'OWNER'],
        [admin, 'MANAGER'],
      ]);
    }
  });

  test('an org ownership transfer: the new org OWNER is OWNER of every project, the former one MANAGER (as ADMIN)', async () => {
    const res = await world.api.post(
      `/orgs/${world.orgId}/transfer-ownership`,
      { userId: admin.id },
      world.owner.token,
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    for (const visibility of both) {
      const project = created[visibility] as RoleProject;
      await world.all(project, [
        [admin, 'OWNER'],
        [world.owner, 'MANAGER'],
        [creator, 'OWNER'],
      ]);
    }
  });
});
