import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '@trellis/shared/testing';
import type { Person } from './support/people.ts';
import { RoleWorld, type RoleProject } from './support/roles.ts';

interface Approval {
  id: string;
  kind: string;
  payload: { projectId?: string };
}

/**
 * Issue 20, continued (see project-roles.test.ts): roles that come from a project's team, roles
 * back after a restore, and the creator's role on a project that waited for approval — the same in
 * work, collab and notify, for ORG and PRIVATE projects.
 */
describe('project roles agree across work, collab and notify: teams, restore, approvals', () => {
  let world: RoleWorld;
  let admin: Person, creator: Person, mate: Person, explicit: Person, member: Person;
  const both = ['ORG', 'PRIVATE'] as const;
  const nothingOr = (visibility: string) => (visibility === 'ORG' ? 'VIEWER' : null);

  let close: (() => Promise<void>) | undefined;

  before(async () => {
    let people: Person[];
    ({ world, people, close } = await RoleWorld.start(
      ['Ada Admin'],
      ['Mia Creator', 'Tom Teammate', 'Eve Explicit', 'Max Member'],
    ));
    [admin, creator, mate, explicit, member] = people as [Person, Person, Person, Person, Person];
  });

  after(() => close?.());

  test("a team's members get the derived role on its projects: created in the team, or moved into it", async () => {
    const team = await world.api.post<{ id: string }>(
      `/orgs/${world.orgId}/teams`,
      { name: 'Platform' },
      world.owner.token,
    );
    assert.equal(team.status, 201, JSON.stringify(team.body));
    const teamPath = `/teams/${team.body.id}/members`;
    const joined = await world.api.post(teamPath, { userId: mate.id, role: 'MEMBER' }, world.owner.token);
    assert.equal(joined.status, 201, JSON.stringify(joined.body));

    const inTeam: RoleProject[] = [];
    for (const visibility of both) {
      const project = await world.project(world.owner, `TM${visibility[0]}`, visibility, {
        teamId: team.body.id,
      });
      inTeam.push(project);
      await world.all(project, [
        [mate, 'CONTRIBUTOR'],
        [member, nothingOr(visibility)],
      ]);
      await world.notified(mate, project);

      // A project made outside the team, then moved into it (PATCH teamId).
      const moved = await world.project(world.owner, `MV${visibility[0]}`, visibility);
      await world.agree(mate, moved, nothingOr(visibility));
      const linked = await world.api.patch(
        `/projects/${moved.id}`,
        { teamId: team.body.id },
        world.owner.token,
      );
      assert.equal(linked.status, 200, JSON.stringify(linked.body));
      inTeam.push(moved);
      await world.agree(mate, moved, 'CONTRIBUTOR');
      await world.notified(mate, moved);
    }

    const lead = await world.api.patch(`${teamPath}/${mate.id}`, { role: 'LEAD' }, world.owner.token);
    assert.equal(lead.status, 200, JSON.stringify(lead.body));
    for (const project of inTeam) await world.agree(mate, project, 'LEAD');
    const gone = await world.api.delete(`${teamPath}/${mate.id}`, world.owner.token);
    assert.equal(gone.status, 204, JSON.stringify(gone.body));
    for (const project of inTeam) {
      await world.agree(mate, project, nothingOr(project.visibility));
      await world.toldOfStatus(mate, project, 'DONE', admin, project.visibility === 'ORG');
    }
  });

  test('a deleted project is gone for everyone, everywhere; restored, every role is back', async () => {
    for (const visibility of both) {
      const project = await world.project(creator, `RS${visibility[0]}`, visibility);
      const added = await world.api.post(
        `/projects/${project.id}/members`,
        { userId: explicit.id, role: 'CONTRIBUTOR' },
        creator.token,
      );
      assert.equal(added.status, 201, JSON.stringify(added.body));
      const roles = (): [Person, 'OWNER' | 'MANAGER' | 'CONTRIBUTOR' | 'VIEWER' | null][] => [
        [creator, 'OWNER'],
        [explicit, 'CONTRIBUTOR'],
        [admin, 'MANAGER'],
        [member, nothingOr(visibility)],
      ];
      await world.all(project, roles());

      const deleted = await world.api.delete(`/projects/${project.id}`, creator.token);
      assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
      await world.all(project, [
        ...roles().map(([who]) => [who, null] as [Person, null]),
        [world.owner, null],
      ]);

      const restored = await world.api.post<{ myRole: string }>(
        `/projects/${project.id}/restore`,
        {},
        creator.token,
      );
      assert.equal(restored.status, 200, JSON.stringify(restored.body));
      assert.equal(restored.body.myRole, 'OWNER');
      await world.all(project, roles());
      await world.notified(creator, project);
      await world.notified(explicit, project);
    }
  });

  test('a project waiting for approval: its creator is OWNER once approved, everywhere; a rejected one is gone', async () => {
    const required = await world.api.patch(
      `/orgs/${world.orgId}/settings`,
      { requireApproval: { projectCreation: true } },
      world.owner.token,
    );
    assert.equal(required.status, 200, JSON.stringify(required.body));
    const decide = async (project: RoleProject, how: 'approve' | 'reject') => {
      const approval = await waitFor(
        async () => {
          const res = await world.api.get<{ items: Approval[] }>(
            `/orgs/${world.orgId}/approvals?state=PENDING`,
            admin.token,
          );
          return res.body.items.find(
            (a) => a.kind === 'project.create' && a.payload.projectId === project.id,
          );
        },
        { what: `the approval of ${project.key}` },
      );
      const res = await world.api.post(
        `/orgs/${world.orgId}/approvals/${approval.id}/${how}`,
        {},
        admin.token,
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
    };
    const status = async (project: RoleProject) =>
      (await world.api.get<{ status: string }>(`/projects/${project.id}`, creator.token)).body.status;

    for (const visibility of both) {
      const project = await world.project(creator, `AP${visibility[0]}`, visibility, { pending: true });
      assert.equal(await status(project), 'PENDING_APPROVAL');
      await decide(project, 'approve');
      await waitFor(async () => (await status(project)) === 'ACTIVE', { what: `${project.key} active` });
      await world.addProbe(project);
      await world.all(project, [
        [creator, 'OWNER'],
        [admin, 'MANAGER'],
        [member, nothingOr(visibility)],
      ]);
      await world.notified(creator, project);

      const rejected = await world.project(creator, `RJ${visibility[0]}`, visibility, { pending: true });
      await decide(rejected, 'reject');
      await world.all(rejected, [
        [creator, null],
        [admin, null],
      ]);
    }
    const off = await world.api.patch(
      `/orgs/${world.orgId}/settings`,
      { requireApproval: { projectCreation: false } },
      world.owner.token,
    );
    assert.equal(off.status, 200, JSON.stringify(off.body));
  });
});
