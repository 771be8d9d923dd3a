// The authorization projection's rules, written once: which events build which memberships, and what
// an ownership transfer or a removal does to them. Each store kind has an adapter (work: PostgreSQL,
// `services/work/src/access/pg-membership.store.ts`; collab and notify: MongoDB, `ProjectionWriter`);
// each consumer binds the rules to its own inbox. How roles then combine is shared/src/policy's
// `effectiveProjectRole`/`effectiveTeamRole`, used by every reader.
import type { EventDefinition } from '../events/registry.ts';
import * as governance from '../events/catalogue/governance.ts';
import * as identity from '../events/catalogue/identity.ts';
import * as work from '../events/catalogue/work.ts';
import { formerOwnerRole } from '../policy/membership-rules.ts';
import { isOwnerRole, type OrgRole, type ProjectRole, type TeamRole } from '../policy/roles.ts';

/** What the rules ask of a store of orgs, teams, their memberships and users. Effects are upserts. */
export interface MembershipStore {
  orgUpserted(d: { orgId: string; ownerId: string; name?: string }, restore: boolean): Promise<unknown>;
  orgDeleted(orgId: string): Promise<unknown>;
  orgSettingsChanged(d: { orgId: string; settings: Record<string, unknown> }): Promise<unknown>;
  orgMemberSet(d: { orgId: string; userId: string; role: OrgRole }): Promise<unknown>;
  /** Every OWNER of the org but `userId` becomes `role` (an ownership event may come before or after). */
  orgOwnersDemoted(d: { orgId: string; userId: string; role: OrgRole }): Promise<unknown>;
  /** The org membership and every team membership of the user in that org end. */
  orgMemberRemoved(d: { orgId: string; userId: string }): Promise<unknown>;
  teamUpserted(d: { orgId: string; teamId: string; name?: string }): Promise<unknown>;
  teamDeleted(d: { orgId: string; teamId: string }): Promise<unknown>;
  teamSettingsChanged(d: {
    orgId: string;
    teamId: string;
    settings: Record<string, unknown>;
  }): Promise<unknown>;
  teamMemberSet(d: { orgId: string; teamId: string; userId: string; role: TeamRole }): Promise<unknown>;
  teamOwnersDemoted(d: { orgId: string; teamId: string; userId: string; role: TeamRole }): Promise<unknown>;
  teamMemberRemoved(d: { orgId: string; teamId: string; userId: string }): Promise<unknown>;
  userUpserted(d: { userId: string; email: string; name: string }): Promise<unknown>;
  userDeleted(userId: string): Promise<unknown>;
}

/** A project as work's events carry it. */
export interface ProjectFields {
  projectId: string;
  orgId: string;
  teamId: string | null;
  name: string;
  key: string;
  status: string;
  visibility: 'ORG' | 'PRIVATE';
  ownerId: string;
}

/** What the rules ask of a store that also mirrors work's projects (the MongoDB services). */
export interface ProjectStore {
  projectUpserted(d: ProjectFields, restore: boolean): Promise<unknown>;
  projectDeleted(d: { projectId: string }): Promise<unknown>;
  projectSettingsChanged(d: { projectId: string; settings: Record<string, unknown> }): Promise<unknown>;
  projectOwnerSet(d: { projectId: string; ownerId: string }): Promise<unknown>;
  projectMemberSet(d: {
    orgId: string;
    projectId: string;
    userId: string;
    role: ProjectRole;
  }): Promise<unknown>;
  projectOwnersDemoted(d: {
    orgId: string;
    projectId: string;
    userId: string;
    role: ProjectRole;
  }): Promise<unknown>;
  projectMemberRemoved(d: { orgId: string; projectId: string; userId: string }): Promise<unknown>;
}

/**
 * Turns one rule into a subscription of the consumer's kind: `C` is what an effect runs in (work's
 * inbox transaction; nothing for MongoDB), `S` the subscription.
 */
export type RuleBinder<C, S> = <D extends Record<string, unknown>>(
  definition: EventDefinition<D>,
  effect: (context: C, data: D) => Promise<unknown>,
) => S;

/** A new OWNER demotes any other first: one owner per org, whatever order the events come in. */
async function orgMember(store: MembershipStore, d: { orgId: string; userId: string; role: OrgRole }) {
  if (isOwnerRole(d.role)) await store.orgOwnersDemoted({ ...d, role: formerOwnerRole('org') as OrgRole });
  await store.orgMemberSet(d);
}

async function teamMember(
  store: MembershipStore,
  d: { orgId: string; teamId: string; userId: string; role: TeamRole },
) {
  if (isOwnerRole(d.role)) await store.teamOwnersDemoted({ ...d, role: formerOwnerRole('team') as TeamRole });
  await store.teamMemberSet(d);
}

async function projectMember(
  store: ProjectStore,
  d: { orgId: string; projectId: string; userId: string; role: ProjectRole },
) {
  if (isOwnerRole(d.role))
    await store.projectOwnersDemoted({ ...d, role: formerOwnerRole('project') as ProjectRole });
  await store.projectMemberSet(d);
}

/** Governance's orgs, teams and memberships and identity's users: every projection keeps these. */
export function membershipRules<C, S>(storeIn: (context: C) => MembershipStore, bind: RuleBinder<C, S>): S[] {
  const g = governance;
  const to =
    <D>(effect: (store: MembershipStore, data: D) => Promise<unknown>) =>
    (context: C, data: D) =>
      effect(storeIn(context), data);
  return [
    bind(
      g.orgCreated,
      to((s, d) => s.orgUpserted(d, false)),
    ),
    bind(
      g.orgUpdated,
      to((s, d) => s.orgUpserted(d, false)),
    ),
    bind(
      g.orgRestored,
      to((s, d) => s.orgUpserted(d, true)),
    ),
    bind(
      g.orgDeleted,
      to((s, d) => s.orgDeleted(d.orgId)),
    ),
    bind(
      g.orgOwnershipTransferred,
      to(async (s, d) => {
        await s.orgUpserted({ orgId: d.orgId, ownerId: d.toUserId }, false);
        await orgMember(s, { orgId: d.orgId, userId: d.toUserId, role: 'OWNER' });
        await orgMember(s, { orgId: d.orgId, userId: d.fromUserId, role: formerOwnerRole('org') as OrgRole });
      }),
    ),
    bind(
      g.orgSettingsChanged,
      to((s, d) => s.orgSettingsChanged(d)),
    ),
    bind(
      g.memberAdded,
      to((s, d) => orgMember(s, d)),
    ),
    bind(
      g.memberRoleChanged,
      to((s, d) => orgMember(s, { orgId: d.orgId, userId: d.userId, role: d.to })),
    ),
    bind(
      g.memberRemoved,
      to((s, d) => s.orgMemberRemoved(d)),
    ),
    bind(
      g.teamCreated,
      to((s, d) => s.teamUpserted(d)),
    ),
    bind(
      g.teamUpdated,
      to((s, d) => s.teamUpserted(d)),
    ),
    bind(
      g.teamDeleted,
      to((s, d) => s.teamDeleted(d)),
    ),
    bind(
      g.teamOwnershipTransferred,
      to(async (s, d) => {
        await teamMember(s, { orgId: d.orgId, teamId: d.teamId, userId: d.toUserId, role: 'OWNER' });
        const former = formerOwnerRole('team') as TeamRole;
        await teamMember(s, { orgId: d.orgId, teamId: d.teamId, userId: d.fromUserId, role: former });
      }),
    ),
    bind(
      g.teamSettingsChanged,
      to((s, d) => s.teamSettingsChanged(d)),
    ),
    bind(
      g.teamMemberAdded,
      to((s, d) => teamMember(s, d)),
    ),
    bind(
      g.teamMemberRoleChanged,
      to((s, d) => teamMember(s, { ...d, role: d.to })),
    ),
    bind(
      g.teamMemberRemoved,
      to((s, d) => s.teamMemberRemoved(d)),
    ),
    bind(
      identity.userRegistered,
      to((s, d) => s.userUpserted(d)),
    ),
    bind(
      identity.userUpdated,
      to((s, d) => s.userUpserted(d)),
    ),
    bind(
      identity.userDeleted,
      to((s, d) => s.userDeleted(d.userId)),
    ),
  ];
}

/**
 * Work's projects and explicit project memberships, for the services that read them from events.
 * A project's creator is its OWNER from `project.created`: work writes that membership with the
 * project, and no member event says so.
 */
export function projectRules<C, S>(storeIn: (context: C) => ProjectStore, bind: RuleBinder<C, S>): S[] {
  const to =
    <D>(effect: (store: ProjectStore, data: D) => Promise<unknown>) =>
    (context: C, data: D) =>
      effect(storeIn(context), data);
  return [
    bind(
      work.projectCreated,
      to(async (s, d) => {
        await s.projectUpserted(d, false);
        await projectMember(s, { orgId: d.orgId, projectId: d.projectId, userId: d.ownerId, role: 'OWNER' });
      }),
    ),
    bind(
      work.projectUpdated,
      to((s, d) => s.projectUpserted(d, false)),
    ),
    bind(
      work.projectRestored,
      to((s, d) => s.projectUpserted(d, true)),
    ),
    bind(
      work.projectDeleted,
      to((s, d) => s.projectDeleted(d)),
    ),
    bind(
      work.projectSettingsChanged,
      to((s, d) => s.projectSettingsChanged(d)),
    ),
    bind(
      work.projectMemberAdded,
      to((s, d) => projectMember(s, d)),
    ),
    bind(
      work.projectMemberRoleChanged,
      to((s, d) => projectMember(s, { ...d, role: d.to })),
    ),
    bind(
      work.projectMemberRemoved,
      to((s, d) => s.projectMemberRemoved(d)),
    ),
    bind(
      work.projectOwnershipTransferred,
      to(async (s, d) => {
        await s.projectOwnerSet({ projectId: d.projectId, ownerId: d.toUserId });
        const { orgId, projectId } = d;
        await projectMember(s, { orgId, projectId, userId: d.toUserId, role: 'OWNER' });
        const former = formerOwnerRole('project') as ProjectRole;
        await projectMember(s, { orgId, projectId, userId: d.fromUserId, role: former });
      }),
    ),
  ];
}
