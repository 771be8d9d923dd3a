import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ACTION_RULES,
  AppError,
  ORG_ACTIONS,
  ORG_ROLES,
  PLAN_LIMITS,
  PROJECT_ACTIONS,
  PROJECT_ROLES,
  TEAM_ACTIONS,
  TEAM_ROLES,
  actionsOf,
  applyOrgSettingsPatch,
  applyProjectSettingsPatch,
  applyTeamSettingsPatch,
  assertWithinPlanLimit,
  atLeast,
  authorize,
  checkGrantedRole,
  checkRemoval,
  checkRoleChange,
  decide,
  decideProjectCreation,
  decideTaskUpdate,
  defaultOrgSettings,
  defaultProjectSettings,
  defaultTeamSettings,
  effectiveProjectRole,
  effectiveRole,
  effectiveTeamRole,
  formerOwnerRole,
  orgRoleSchema,
  orgSettingsPatchSchema,
  outranks,
  projectRoleSchema,
  projectSettingsPatchSchema,
  rank,
  roleAt,
  rolesOf,
  teamRoleSchema,
  teamSettingsPatchSchema,
  thresholdFor,
  thresholdsInForce,
  RESTORE_WINDOW_MS,
  withinRestoreWindow,
} from '../src/index.ts';
import type {
  ActionOf,
  Memberships,
  OrgRole,
  OrgSettings,
  PolicySettings,
  ProjectRole,
  ProjectSettings,
  RoleOf,
  Scope,
  TeamRole,
  TeamSettings,
} from '../src/index.ts';

const SCOPES: Scope[] = ['org', 'team', 'project'];

/** Runs fn, asserting it throws an AppError with this status and code; returns the error. */
function appErrorFrom(fn: () => unknown, status: number, code: string): AppError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof AppError, `expected an AppError ${status} ${code}, got ${String(caught)}`);
  assert.equal(caught.status, status, caught.message);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

/** Memberships that give exactly `role` at a scope, with nothing derived on top. */
function holding(scope: Scope, role: string): Memberships {
  if (scope === 'org') return { orgRole: role as OrgRole };
  if (scope === 'team') return { orgRole: 'MEMBER', teamRole: role as TeamRole };
  return { orgRole: 'MEMBER', projectRole: role as ProjectRole, visibility: 'PRIVATE' };
}

/** Settings in which `scope`'s own thresholds are `thresholds` (project inherit none). */
function settingsWith(scope: Scope, thresholds: Record<string, string>): PolicySettings {
  if (scope === 'org') return { org: { ...defaultOrgSettings(), thresholds } };
  if (scope === 'team') return { org: defaultOrgSettings(), team: { ...defaultTeamSettings(), thresholds } };
  return { org: defaultOrgSettings(), team: null, project: { ...defaultProjectSettings(), thresholds } };
}

function decideFor(scope: Scope, action: string, memberships: Memberships, settings: PolicySettings) {
  return decide({ scope, action: action as ActionOf<typeof scope>, memberships, settings });
}

/** Applies a thresholds patch at `scope` through the public patch functions. */
function patchThresholds(scope: Scope, thresholds: Record<string, string | null>): Record<string, string> {
  if (scope === 'org')
    return applyOrgSettingsPatch(defaultOrgSettings(), orgSettingsPatchSchema.parse({ thresholds }))
      .thresholds;
  if (scope === 'team')
    return applyTeamSettingsPatch(defaultTeamSettings(), teamSettingsPatchSchema.parse({ thresholds }))
      .thresholds;
  return applyProjectSettingsPatch(defaultProjectSettings(), projectSettingsPatchSchema.parse({ thresholds }))
    .thresholds;
}

test('the restore window is 30 days, its last millisecond included', () => {
  const now = Date.UTC(2026, 11, 6);
  assert.equal(RESTORE_WINDOW_MS, 30 * 24 * 3_600_000);
  assert.equal(withinRestoreWindow(new Date(now - RESTORE_WINDOW_MS), now), true);
  assert.equal(withinRestoreWindow(new Date(now - RESTORE_WINDOW_MS - 1), now), false);
  assert.equal(withinRestoreWindow(new Date(now), now), true);
});

describe('role ladders', () => {
  test('ranks follow product.md §2', () => {
    const table: [number, OrgRole, TeamRole, ProjectRole][] = [
      [5, 'OWNER', 'OWNER', 'OWNER'],
      [4, 'ADMIN', 'MANAGER', 'MANAGER'],
      [3, 'MANAGER', 'LEAD', 'LEAD'],
      [2, 'MEMBER', 'MEMBER', 'CONTRIBUTOR'],
      [1, 'VIEWER', 'VIEWER', 'VIEWER'],
    ];
    for (const [r, org, team, project] of table) {
      assert.equal(rank('org', org), r);
      assert.equal(rank('team', team), r);
      assert.equal(rank('project', project), r);
      assert.equal(roleAt('org', r), org);
      assert.equal(roleAt('team', r), team);
      assert.equal(roleAt('project', r), project);
    }
    assert.deepEqual(rolesOf('org'), ORG_ROLES);
    assert.deepEqual(rolesOf('team'), TEAM_ROLES);
    assert.deepEqual(rolesOf('project'), PROJECT_ROLES);
  });

  test('unknown roles and ranks throw; a role of another ladder is unknown', () => {
    assert.throws(() => rank('org', 'LEAD'), /not a org role/);
    assert.throws(() => rank('project', 'MEMBER'));
    assert.throws(() => rank('team', 'ADMIN'));
    assert.throws(() => rank('org', 'owner'));
    assert.throws(() => roleAt('org', 0));
    assert.throws(() => roleAt('org', 6));
    assert.throws(() => roleAt('org', 2.5));
    assert.throws(() => atLeast('org', 'MEMBER', 'LEAD'));
  });

  test('atLeast and outranks over every pair; no role is never enough', () => {
    for (const scope of SCOPES) {
      for (const a of rolesOf(scope)) {
        for (const b of rolesOf(scope)) {
          assert.equal(atLeast(scope, a, b), rank(scope, a) >= rank(scope, b), `${scope} ${a} >= ${b}`);
          assert.equal(outranks(scope, a, b), rank(scope, a) > rank(scope, b), `${scope} ${a} > ${b}`);
        }
        assert.equal(atLeast(scope, null, a), false);
        assert.equal(atLeast(scope, undefined, a), false);
        assert.equal(outranks(scope, null, a), false);
      }
    }
  });

  test('zod role schemas accept exactly their ladder', () => {
    assert.equal(orgRoleSchema.safeParse('ADMIN').success, true);
    assert.equal(orgRoleSchema.safeParse('LEAD').success, false);
    assert.equal(teamRoleSchema.safeParse('LEAD').success, true);
    assert.equal(teamRoleSchema.safeParse('CONTRIBUTOR').success, false);
    assert.equal(projectRoleSchema.safeParse('CONTRIBUTOR').success, true);
    assert.equal(projectRoleSchema.safeParse('ADMIN').success, false);
  });
});

describe('action catalogue', () => {
  // product.md §3, copied by hand: the catalogue must match it verbatim.
  const SPEC_TABLE = `
    org     member.invite      MANAGER     OWNER   ADMIN
    org     member.updateRole  ADMIN       OWNER   ADMIN
    org     member.remove      ADMIN       OWNER   ADMIN
    org     team.create        MEMBER      OWNER   ADMIN
    org     project.create     MEMBER      OWNER   ADMIN
    org     announcement.post  MEMBER      OWNER   ADMIN
    org     approval.decide    ADMIN       OWNER   ADMIN
    org     audit.read         ADMIN       OWNER   ADMIN
    org     webhook.manage     ADMIN       OWNER   ADMIN
    team    member.add         LEAD        OWNER   MANAGER
    team    member.updateRole  MANAGER     OWNER   MANAGER
    team    member.remove      MANAGER     OWNER   MANAGER
    team    project.create     MEMBER      OWNER   MANAGER
    project member.add         LEAD        OWNER   MANAGER
    project member.updateRole  MANAGER     OWNER   MANAGER
    project member.remove      MANAGER     OWNER   MANAGER
    project task.create        CONTRIBUTOR MANAGER CONTRIBUTOR
    project task.update        CONTRIBUTOR MANAGER CONTRIBUTOR
    project task.delete        LEAD        OWNER   MANAGER
    project sprint.manage      LEAD        OWNER   LEAD
    project comment.create     VIEWER      MANAGER CONTRIBUTOR
    project comment.moderate   LEAD        OWNER   MANAGER`;

  test('matches the product.md §3 table exactly', () => {
    const expected: Record<string, Record<string, { min: string; max: string; default: string }>> = {
      org: {},
      team: {},
      project: {},
    };
    for (const line of SPEC_TABLE.trim().split('\n')) {
      const [scope, action, min, max, def] = line.trim().split(/\s+/) as [
        string,
        string,
        string,
        string,
        string,
      ];
      (expected[scope] as Record<string, unknown>)[action] = { min, max, default: def };
    }
    assert.deepEqual(ACTION_RULES, expected);
    assert.deepEqual([...ORG_ACTIONS], Object.keys(expected.org as object));
    assert.deepEqual([...TEAM_ACTIONS], Object.keys(expected.team as object));
    assert.deepEqual([...PROJECT_ACTIONS], Object.keys(expected.project as object));
  });

  test('every rule is ordered min <= default <= max on its own ladder', () => {
    for (const scope of SCOPES) {
      for (const action of actionsOf(scope)) {
        const rule = (ACTION_RULES[scope] as Record<string, { min: string; max: string; default: string }>)[
          action
        ];
        assert.ok(rule);
        assert.ok(rank(scope, rule.min) <= rank(scope, rule.default), `${scope} ${action}`);
        assert.ok(rank(scope, rule.default) <= rank(scope, rule.max), `${scope} ${action}`);
      }
    }
  });
});

function ruleFor(scope: Scope, action: string) {
  const rule = (ACTION_RULES[scope] as Record<string, { min: string; max: string; default: string }>)[action];
  assert.ok(rule, `${scope} ${action}`);
  return rule;
}

describe('decisions with default settings', () => {
  const defaults: PolicySettings = {
    org: defaultOrgSettings(),
    team: defaultTeamSettings(),
    project: defaultProjectSettings(),
  };

  for (const scope of SCOPES) {
    for (const action of actionsOf(scope)) {
      test(`${scope} ${action}: allowed iff rank >= ${ruleFor(scope, action).default}`, () => {
        const required = ruleFor(scope, action).default;
        for (const role of rolesOf(scope)) {
          const decision = decideFor(scope, action, holding(scope, role), defaults);
          assert.equal(decision.allowed, rank(scope, role) >= rank(scope, required), `${role}`);
          assert.deepEqual(decision.reason, { scope, action, requiredRole: required, yourRole: role });
        }
        // Absent settings mean catalogue defaults too.
        for (const role of rolesOf(scope)) {
          const decision = decideFor(scope, action, holding(scope, role), {});
          assert.equal(decision.allowed, rank(scope, role) >= rank(scope, required));
        }
      });
    }
  }

  // Hand-written expectations, roles listed lowest first: '+' allowed, '-' denied.
  const EXPECTED: [Scope, string, string][] = [
    ['org', 'member.invite', '---++'],
    ['org', 'team.create', '---++'],
    ['org', 'audit.read', '---++'],
    ['team', 'member.add', '---++'],
    ['team', 'project.create', '---++'],
    ['project', 'task.create', '-++++'],
    ['project', 'task.update', '-++++'],
    ['project', 'comment.create', '-++++'],
    ['project', 'sprint.manage', '--+++'],
    ['project', 'task.delete', '---++'],
    ['project', 'comment.moderate', '---++'],
  ];
  for (const [scope, action, pattern] of EXPECTED) {
    test(`hand-checked: ${scope} ${action} = ${pattern}`, () => {
      const actual = rolesOf(scope)
        .map((role) => (decideFor(scope, action, holding(scope, role), defaults).allowed ? '+' : '-'))
        .join('');
      assert.equal(actual, pattern);
    });
  }

  test('a project VIEWER may read but not comment; a CONTRIBUTOR may create tasks but not delete them', () => {
    const viewer = holding('project', 'VIEWER');
    const contributor = holding('project', 'CONTRIBUTOR');
    assert.equal(
      decide({ scope: 'project', action: 'comment.create', memberships: viewer, settings: {} }).allowed,
      false,
    );
    assert.equal(
      decide({ scope: 'project', action: 'task.create', memberships: contributor, settings: {} }).allowed,
      true,
    );
    assert.equal(
      decide({ scope: 'project', action: 'task.delete', memberships: contributor, settings: {} }).allowed,
      false,
    );
  });

  test('an unknown action is a programmer error', () => {
    assert.throws(() => decideFor('org', 'task.create', { orgRole: 'OWNER' }, {}), /not a org action/);
    assert.throws(() => decideFor('team', 'audit.read', { orgRole: 'OWNER' }, {}));
  });
});

describe('configured thresholds', () => {
  for (const scope of SCOPES) {
    for (const action of actionsOf(scope)) {
      const rule = ruleFor(scope, action);
      test(`${scope} ${action}: every value in [${rule.min}, ${rule.max}] decides; others are 422`, () => {
        for (const threshold of rolesOf(scope)) {
          const inRange =
            rank(scope, threshold) >= rank(scope, rule.min) &&
            rank(scope, threshold) <= rank(scope, rule.max);
          if (!inRange) {
            const err = appErrorFrom(
              () => patchThresholds(scope, { [action]: threshold }),
              422,
              'VALIDATION_FAILED',
            );
            assert.deepEqual(err.errors, [
              { path: `thresholds.${action}`, message: `must be between ${rule.min} and ${rule.max}` },
            ]);
            continue;
          }
          const thresholds = patchThresholds(scope, { [action]: threshold });
          assert.deepEqual(thresholds, { [action]: threshold });
          const settings = settingsWith(scope, thresholds);
          assert.equal(thresholdFor(scope, action as ActionOf<typeof scope>, settings), threshold);
          for (const role of rolesOf(scope)) {
            const decision = decideFor(scope, action, holding(scope, role), settings);
            const expected =
              rank(scope, role) >= rank(scope, threshold) || (scope === 'org' && role === 'OWNER');
            assert.equal(decision.allowed, expected, `threshold ${threshold}, role ${role}`);
            assert.equal(decision.reason.requiredRole, threshold);
          }
        }
      });
    }
  }

  for (const level of ['org', 'team'] as const) {
    test(`${level} projectDefaults: every project action validates its range`, () => {
      for (const action of PROJECT_ACTIONS) {
        const rule = ruleFor('project', action);
        for (const threshold of PROJECT_ROLES) {
          const inRange =
            rank('project', threshold) >= rank('project', rule.min) &&
            rank('project', threshold) <= rank('project', rule.max);
          const apply = () =>
            level === 'org'
              ? applyOrgSettingsPatch(defaultOrgSettings(), { projectDefaults: { [action]: threshold } })
              : applyTeamSettingsPatch(defaultTeamSettings(), { projectDefaults: { [action]: threshold } });
          if (inRange) {
            assert.deepEqual(apply().projectDefaults, { [action]: threshold });
          } else {
            const err = appErrorFrom(apply, 422, 'VALIDATION_FAILED');
            assert.deepEqual(err.errors, [
              { path: `projectDefaults.${action}`, message: `must be between ${rule.min} and ${rule.max}` },
            ]);
          }
        }
      }
    });
  }

  test('one error per bad field, across thresholds and projectDefaults; nothing applied', () => {
    const err = appErrorFrom(
      () =>
        applyOrgSettingsPatch(defaultOrgSettings(), {
          thresholds: { 'member.invite': 'VIEWER', 'audit.read': 'MANAGER', 'team.create': 'MEMBER' },
          projectDefaults: { 'task.create': 'OWNER' },
        }),
      422,
      'VALIDATION_FAILED',
    );
    assert.deepEqual(err.errors, [
      { path: 'thresholds.member.invite', message: 'must be between MANAGER and OWNER' },
      { path: 'thresholds.audit.read', message: 'must be between ADMIN and OWNER' },
      { path: 'projectDefaults.task.create', message: 'must be between CONTRIBUTOR and MANAGER' },
    ]);
  });

  test('null resets a threshold to its catalogue default; other thresholds are kept', () => {
    const current: OrgSettings = {
      ...defaultOrgSettings(),
      thresholds: { 'member.invite': 'OWNER', 'team.create': 'MEMBER' },
    };
    const next = applyOrgSettingsPatch(
      current,
      orgSettingsPatchSchema.parse({ thresholds: { 'member.invite': null } }),
    );
    assert.deepEqual(next.thresholds, { 'team.create': 'MEMBER' });
    assert.equal(thresholdFor('org', 'member.invite', { org: next }), 'ADMIN');
    assert.deepEqual(
      current.thresholds,
      { 'member.invite': 'OWNER', 'team.create': 'MEMBER' },
      'not mutated',
    );
  });

  test('a stored threshold outside its range is clamped into it', () => {
    const settings = settingsWith('project', { 'task.create': 'OWNER', 'task.delete': 'VIEWER' });
    assert.equal(thresholdFor('project', 'task.create', settings), 'MANAGER');
    assert.equal(thresholdFor('project', 'task.delete', settings), 'LEAD');
    const org = settingsWith('org', { 'audit.read': 'VIEWER' });
    assert.equal(thresholdFor('org', 'audit.read', org), 'ADMIN');
  });

  test('thresholdsInForce lists every action', () => {
    const settings = settingsWith('team', { 'project.create': 'MEMBER' });
    assert.deepEqual(thresholdsInForce('team', settings), {
      'member.add': 'MANAGER',
      'member.updateRole': 'MANAGER',
      'member.remove': 'MANAGER',
      'project.create': 'MEMBER',
    });
  });
});

describe('settings patches', () => {
  test('defaults follow product.md §3', () => {
    assert.deepEqual(defaultOrgSettings(), {
      thresholds: {},
      projectDefaults: {},
      allowSelfRemoval: true,
      allowJoinRequests: false,
      defaultMemberRole: 'MEMBER',
      requireApproval: {
        invites: false,
        roleChanges: false,
        removals: false,
        teamCreation: false,
        projectCreation: false,
      },
      plan: 'FREE',
    });
    assert.deepEqual(defaultTeamSettings(), { thresholds: {}, projectDefaults: {} });
    assert.deepEqual(defaultProjectSettings(), {
      thresholds: {},
      inherit: 'none',
      onlyAssigneeCanUpdateTask: false,
    });
  });

  test('an empty patch changes nothing', () => {
    assert.deepEqual(applyOrgSettingsPatch(defaultOrgSettings(), {}), defaultOrgSettings());
    assert.deepEqual(applyTeamSettingsPatch(defaultTeamSettings(), {}), defaultTeamSettings());
    assert.deepEqual(applyProjectSettingsPatch(defaultProjectSettings(), {}), defaultProjectSettings());
  });

  test('org toggles, approval flags and plan merge field by field', () => {
    const patch = orgSettingsPatchSchema.parse({
      allowSelfRemoval: false,
      allowJoinRequests: true,
      defaultMemberRole: 'VIEWER',
      requireApproval: { invites: true },
      plan: 'PRO',
    });
    const next = applyOrgSettingsPatch(defaultOrgSettings(), patch);
    assert.equal(next.allowSelfRemoval, false);
    assert.equal(next.allowJoinRequests, true);
    assert.equal(next.defaultMemberRole, 'VIEWER');
    assert.deepEqual(next.requireApproval, {
      invites: true,
      roleChanges: false,
      removals: false,
      teamCreation: false,
      projectCreation: false,
    });
    assert.equal(next.plan, 'PRO');
    const again = applyOrgSettingsPatch(next, { requireApproval: { removals: true } });
    assert.equal(again.requireApproval.invites, true);
    assert.equal(again.requireApproval.removals, true);
  });

  test('project inherit and onlyAssigneeCanUpdateTask', () => {
    const next = applyProjectSettingsPatch(
      defaultProjectSettings(),
      projectSettingsPatchSchema.parse({ inherit: 'team', onlyAssigneeCanUpdateTask: true }),
    );
    assert.deepEqual(next, { thresholds: {}, inherit: 'team', onlyAssigneeCanUpdateTask: true });
  });

  test('schemas reject wrong ladders, unknown actions and fields, OWNER as default role', () => {
    const bad: [
      typeof orgSettingsPatchSchema | typeof teamSettingsPatchSchema | typeof projectSettingsPatchSchema,
      unknown,
      string,
    ][] = [
      [orgSettingsPatchSchema, { thresholds: { 'member.invite': 'LEAD' } }, 'thresholds.member.invite'],
      [orgSettingsPatchSchema, { thresholds: { 'task.create': 'ADMIN' } }, 'thresholds'],
      [
        orgSettingsPatchSchema,
        { projectDefaults: { 'task.create': 'MEMBER' } },
        'projectDefaults.task.create',
      ],
      [orgSettingsPatchSchema, { defaultMemberRole: 'OWNER' }, 'defaultMemberRole'],
      [orgSettingsPatchSchema, { plan: 'GOLD' }, 'plan'],
      [orgSettingsPatchSchema, { requireApproval: { everything: true } }, 'requireApproval'],
      [orgSettingsPatchSchema, { colour: 'red' }, ''],
      [teamSettingsPatchSchema, { thresholds: { 'member.add': 'CONTRIBUTOR' } }, 'thresholds.member.add'],
      [teamSettingsPatchSchema, { inherit: 'org' }, ''],
      [projectSettingsPatchSchema, { thresholds: { 'task.create': 'MEMBER' } }, 'thresholds.task.create'],
      [projectSettingsPatchSchema, { inherit: 'parent' }, 'inherit'],
      [projectSettingsPatchSchema, { onlyAssigneeCanUpdateTask: 'yes' }, 'onlyAssigneeCanUpdateTask'],
    ];
    for (const [schema, body, path] of bad) {
      const result = schema.safeParse(body);
      assert.equal(result.success, false, JSON.stringify(body));
      assert.ok(
        result.error?.issues.some((issue) => issue.path.map(String).join('.') === path),
        `${JSON.stringify(body)} → ${JSON.stringify(result.error?.issues)}`,
      );
    }
    for (const role of ['VIEWER', 'MEMBER', 'MANAGER', 'ADMIN']) {
      assert.equal(orgSettingsPatchSchema.safeParse({ defaultMemberRole: role }).success, true);
    }
  });

  test('plan limits: FREE 50/5/10, PRO 500/50/200, ENTERPRISE unlimited; 409 LIMIT_REACHED at the limit', () => {
    assert.deepEqual(PLAN_LIMITS, {
      FREE: { members: 50, teams: 5, projects: 10 },
      PRO: { members: 500, teams: 50, projects: 200 },
      ENTERPRISE: { members: Infinity, teams: Infinity, projects: Infinity },
    });
    assertWithinPlanLimit('FREE', 'teams', 4);
    const err = appErrorFrom(() => assertWithinPlanLimit('FREE', 'teams', 5), 409, 'LIMIT_REACHED');
    assert.deepEqual(err.extensions, { limit: { plan: 'FREE', resource: 'teams', max: 5 } });
    assert.match(err.message, /FREE plan allows at most 5 teams/);
    appErrorFrom(() => assertWithinPlanLimit('PRO', 'members', 499, 2), 409, 'LIMIT_REACHED');
    assertWithinPlanLimit('ENTERPRISE', 'projects', 1_000_000);
  });
});

describe('org OWNER bypass', () => {
  /** Every threshold raised to its maximum. */
  function maxed(scope: Scope): Record<string, string> {
    return Object.fromEntries(actionsOf(scope).map((action) => [action, ruleFor(scope, action).max]));
  }
  const allMaxed: PolicySettings = {
    org: { ...defaultOrgSettings(), thresholds: maxed('org'), projectDefaults: maxed('project') },
    team: { thresholds: maxed('team'), projectDefaults: maxed('project') },
    project: { ...defaultProjectSettings(), thresholds: maxed('project') },
  };

  for (const scope of SCOPES) {
    test(`${scope}: the org OWNER passes every action with thresholds at max, PRIVATE, without membership`, () => {
      for (const action of actionsOf(scope)) {
        for (const inherit of ['none', 'team', 'org'] as const) {
          const settings = { ...allMaxed, project: { ...(allMaxed.project as ProjectSettings), inherit } };
          const decision = decideFor(scope, action, { orgRole: 'OWNER', visibility: 'PRIVATE' }, settings);
          assert.equal(decision.allowed, true, `${action}`);
          assert.equal(decision.bypass, true);
          assert.doesNotThrow(() =>
            authorize({
              scope,
              action: action as ActionOf<typeof scope>,
              memberships: { orgRole: 'OWNER' },
              settings,
            }),
          );
        }
      }
    });

    test(`${scope}: nobody else bypasses; an ADMIN is denied what is raised to OWNER`, () => {
      for (const orgRole of ['ADMIN', 'MANAGER', 'MEMBER', 'VIEWER'] as const) {
        const memberships: Memberships = { orgRole, teamRole: 'MANAGER', projectRole: 'MANAGER' };
        for (const action of actionsOf(scope)) {
          const decision = decideFor(scope, action, memberships, allMaxed);
          assert.equal(decision.bypass, false);
          if (ruleFor(scope, action).max === 'OWNER')
            assert.equal(decision.allowed, false, `${orgRole} ${action}`);
        }
      }
    });
  }
});

describe('effective roles', () => {
  test('team: explicit role; org OWNER/ADMIN act as MANAGER at least; org OWNER bypasses', () => {
    const cases: [OrgRole | null, TeamRole | null, TeamRole | null, boolean][] = [
      ['OWNER', null, 'MANAGER', true],
      ['OWNER', 'OWNER', 'OWNER', true],
      ['OWNER', 'VIEWER', 'MANAGER', true],
      ['ADMIN', null, 'MANAGER', false],
      ['ADMIN', 'LEAD', 'MANAGER', false],
      ['ADMIN', 'OWNER', 'OWNER', false],
      ['MANAGER', null, null, false],
      ['MANAGER', 'LEAD', 'LEAD', false],
      ['MEMBER', 'MEMBER', 'MEMBER', false],
      ['VIEWER', 'OWNER', 'OWNER', false],
      [null, 'OWNER', null, false],
      [null, null, null, false],
    ];
    for (const [orgRole, teamRole, role, bypass] of cases) {
      assert.deepEqual(effectiveTeamRole({ orgRole, teamRole }), { role, bypass }, `${orgRole} ${teamRole}`);
      assert.deepEqual(effectiveRole('team', { orgRole, teamRole }), { role, bypass });
    }
  });

  test('org: the org role itself', () => {
    for (const orgRole of ORG_ROLES) {
      assert.deepEqual(effectiveRole('org', { orgRole }), { role: orgRole, bypass: orgRole === 'OWNER' });
    }
    assert.deepEqual(effectiveRole('org', { orgRole: null }), { role: null, bypass: false });
  });

  test('project from the org: OWNER → OWNER + bypass, ADMIN → MANAGER, others VIEWER on ORG visibility only', () => {
    const cases: [OrgRole, 'ORG' | 'PRIVATE' | undefined, ProjectRole | null][] = [
      ['OWNER', 'ORG', 'OWNER'],
      ['OWNER', 'PRIVATE', 'OWNER'],
      ['ADMIN', 'ORG', 'MANAGER'],
      ['ADMIN', 'PRIVATE', 'MANAGER'],
      ['MANAGER', 'ORG', 'VIEWER'],
      ['MANAGER', 'PRIVATE', null],
      ['MEMBER', 'ORG', 'VIEWER'],
      ['MEMBER', undefined, 'VIEWER'],
      ['MEMBER', 'PRIVATE', null],
      ['VIEWER', 'ORG', 'VIEWER'],
      ['VIEWER', 'PRIVATE', null],
    ];
    for (const [orgRole, visibility, role] of cases) {
      const m: Memberships = visibility ? { orgRole, visibility } : { orgRole };
      assert.deepEqual(
        effectiveProjectRole(m),
        { role, source: role === null ? null : 'org', bypass: orgRole === 'OWNER' },
        `${orgRole} ${visibility}`,
      );
    }
  });

  test('project from the team: OWNER/MANAGER → MANAGER, LEAD → LEAD, MEMBER → CONTRIBUTOR, VIEWER → VIEWER', () => {
    const mapping: [TeamRole, ProjectRole][] = [
      ['OWNER', 'MANAGER'],
      ['MANAGER', 'MANAGER'],
      ['LEAD', 'LEAD'],
      ['MEMBER', 'CONTRIBUTOR'],
      ['VIEWER', 'VIEWER'],
    ];
    for (const [teamRole, role] of mapping) {
      assert.deepEqual(
        effectiveProjectRole({ orgRole: 'MEMBER', teamRole, visibility: 'PRIVATE', projectHasTeam: true }),
        { role, source: 'team', bypass: false },
      );
      // A team role is ignored when the project has no team.
      assert.deepEqual(
        effectiveProjectRole({ orgRole: 'MEMBER', teamRole, visibility: 'PRIVATE', projectHasTeam: false }),
        { role: null, source: null, bypass: false },
      );
    }
  });

  test('highest of explicit / org / team, with its source (ties: explicit, team, org)', () => {
    const cases: [Memberships, ProjectRole | null, string | null][] = [
      [{ orgRole: 'MEMBER', projectRole: 'CONTRIBUTOR' }, 'CONTRIBUTOR', 'explicit'],
      [{ orgRole: 'ADMIN', projectRole: 'CONTRIBUTOR' }, 'MANAGER', 'org'],
      [{ orgRole: 'ADMIN', projectRole: 'MANAGER' }, 'MANAGER', 'explicit'],
      [{ orgRole: 'ADMIN', projectRole: 'OWNER' }, 'OWNER', 'explicit'],
      [{ orgRole: 'MEMBER', teamRole: 'LEAD', projectRole: 'CONTRIBUTOR' }, 'LEAD', 'team'],
      [{ orgRole: 'MEMBER', teamRole: 'MEMBER', projectRole: 'LEAD' }, 'LEAD', 'explicit'],
      [{ orgRole: 'MEMBER', teamRole: 'LEAD', projectRole: 'LEAD' }, 'LEAD', 'explicit'],
      [{ orgRole: 'ADMIN', teamRole: 'MANAGER' }, 'MANAGER', 'team'],
      [{ orgRole: 'VIEWER', teamRole: 'VIEWER' }, 'VIEWER', 'team'],
      [{ orgRole: 'VIEWER', projectRole: 'VIEWER' }, 'VIEWER', 'explicit'],
      [{ orgRole: 'OWNER', projectRole: 'VIEWER' }, 'OWNER', 'org'],
      [{ orgRole: 'MEMBER', visibility: 'PRIVATE' }, null, null],
    ];
    for (const [m, role, source] of cases) {
      const result = effectiveProjectRole(m);
      assert.equal(result.role, role, JSON.stringify(m));
      assert.equal(result.source, source, JSON.stringify(m));
    }
  });

  test('every combination: the rank is the highest of the three hand-mapped sources', () => {
    const fromOrg = { OWNER: 5, ADMIN: 4, MANAGER: 1, MEMBER: 1, VIEWER: 1 } as const;
    const fromTeam = { OWNER: 4, MANAGER: 4, LEAD: 3, MEMBER: 2, VIEWER: 1 } as const;
    for (const orgRole of [...ORG_ROLES, null]) {
      for (const teamRole of [...TEAM_ROLES, null]) {
        for (const projectRole of [...PROJECT_ROLES, null]) {
          for (const visibility of ['ORG', 'PRIVATE'] as const) {
            const m: Memberships = { orgRole, teamRole, projectRole, visibility };
            const { role } = effectiveProjectRole(m);
            if (orgRole === null) {
              assert.equal(role, null);
              continue;
            }
            const orgRank =
              orgRole === 'OWNER' || orgRole === 'ADMIN' || visibility === 'ORG' ? fromOrg[orgRole] : 0;
            const expected = Math.max(
              orgRank,
              teamRole ? fromTeam[teamRole] : 0,
              projectRole ? rank('project', projectRole) : 0,
            );
            assert.equal(role === null ? 0 : rank('project', role), expected, JSON.stringify(m));
          }
        }
      }
    }
  });

  test('no org membership → no role, even with stale explicit project and team roles: access is lost', () => {
    const removed: Memberships = {
      orgRole: null,
      teamRole: 'OWNER',
      projectRole: 'OWNER',
      visibility: 'ORG',
    };
    assert.deepEqual(effectiveProjectRole(removed), { role: null, source: null, bypass: false });
    for (const action of PROJECT_ACTIONS) {
      const decision = decide({ scope: 'project', action, memberships: removed, settings: {} });
      assert.equal(decision.allowed, false);
      assert.equal(decision.reason.yourRole, null);
    }
    for (const action of TEAM_ACTIONS) {
      assert.equal(decide({ scope: 'team', action, memberships: removed, settings: {} }).allowed, false);
    }
  });

  test('derived roles drive decisions: org ADMIN manages projects, team MEMBER contributes', () => {
    const admin: Memberships = { orgRole: 'ADMIN', visibility: 'PRIVATE' };
    assert.equal(
      decide({ scope: 'project', action: 'task.delete', memberships: admin, settings: {} }).allowed,
      true,
    );
    assert.equal(
      decide({ scope: 'project', action: 'member.add', memberships: admin, settings: {} }).allowed,
      true,
    );
    const teamMember: Memberships = { orgRole: 'VIEWER', teamRole: 'MEMBER', visibility: 'PRIVATE' };
    const create = decide({ scope: 'project', action: 'task.create', memberships: teamMember, settings: {} });
    assert.deepEqual(create, {
      allowed: true,
      bypass: false,
      reason: {
        scope: 'project',
        action: 'task.create',
        requiredRole: 'CONTRIBUTOR',
        yourRole: 'CONTRIBUTOR',
      },
    });
    const orgViewer: Memberships = { orgRole: 'MEMBER' };
    assert.equal(
      decide({ scope: 'project', action: 'comment.create', memberships: orgViewer, settings: {} }).allowed,
      false,
    );
  });
});

describe('project threshold inheritance', () => {
  const org: OrgSettings = {
    ...defaultOrgSettings(),
    projectDefaults: { 'task.delete': 'OWNER', 'task.create': 'LEAD' },
  };
  const team: TeamSettings = { thresholds: {}, projectDefaults: { 'task.delete': 'LEAD' } };
  const own = (inherit: 'none' | 'team' | 'org'): ProjectSettings => ({
    thresholds: { 'task.delete': 'MANAGER', 'comment.create': 'VIEWER' },
    inherit,
    onlyAssigneeCanUpdateTask: false,
  });

  test("'none' uses the project's own thresholds, else catalogue defaults", () => {
    const s = { org, team, project: own('none') };
    assert.equal(thresholdFor('project', 'task.delete', s), 'MANAGER');
    assert.equal(thresholdFor('project', 'comment.create', s), 'VIEWER');
    assert.equal(thresholdFor('project', 'task.create', s), 'CONTRIBUTOR');
  });

  test("'team' uses the team's projectDefaults, then the org's for what the team left unset", () => {
    const s = { org, team, project: own('team') };
    assert.equal(thresholdFor('project', 'task.delete', s), 'LEAD');
    assert.equal(thresholdFor('project', 'task.create', s), 'LEAD');
    assert.equal(thresholdFor('project', 'comment.create', s), 'CONTRIBUTOR');
    // A project without a team falls back to the org's projectDefaults.
    assert.equal(thresholdFor('project', 'task.delete', { org, team: null, project: own('team') }), 'OWNER');
  });

  test("'org' uses the org's projectDefaults, ignoring the team's and its own", () => {
    const s = { org, team, project: own('org') };
    assert.equal(thresholdFor('project', 'task.delete', s), 'OWNER');
    assert.equal(thresholdFor('project', 'task.create', s), 'LEAD');
    assert.equal(thresholdFor('project', 'comment.create', s), 'CONTRIBUTOR');
  });

  test('inheritance changes decisions', () => {
    const lead: Memberships = { orgRole: 'MEMBER', projectRole: 'LEAD' };
    const allowed = (inherit: 'none' | 'team' | 'org') =>
      decide({
        scope: 'project',
        action: 'task.delete',
        memberships: lead,
        settings: { org, team, project: own(inherit) },
      }).allowed;
    assert.equal(allowed('none'), false);
    assert.equal(allowed('team'), true);
    assert.equal(allowed('org'), false);
  });

  test('projectDefaults do not change org or team scope thresholds', () => {
    assert.equal(thresholdFor('team', 'member.add', { org, team }), 'MANAGER');
    assert.equal(thresholdFor('org', 'project.create', { org, team }), 'ADMIN');
  });
});

describe('denials', () => {
  test('authorize throws 403 POLICY_DENIED carrying exactly {scope, action, requiredRole, yourRole}', () => {
    const err = appErrorFrom(
      () =>
        authorize({
          scope: 'project',
          action: 'task.delete',
          memberships: { orgRole: 'MEMBER', projectRole: 'CONTRIBUTOR' },
          settings: {},
        }),
      403,
      'POLICY_DENIED',
    );
    assert.deepEqual(err.extensions, {
      policy: { scope: 'project', action: 'task.delete', requiredRole: 'MANAGER', yourRole: 'CONTRIBUTOR' },
    });
    assert.match(err.message, /task\.delete requires MANAGER or higher; your project role is CONTRIBUTOR/);
  });

  test('yourRole is null without any role', () => {
    const err = appErrorFrom(
      () =>
        authorize({ scope: 'team', action: 'member.add', memberships: { orgRole: 'MEMBER' }, settings: {} }),
      403,
      'POLICY_DENIED',
    );
    assert.deepEqual(err.extensions.policy, {
      scope: 'team',
      action: 'member.add',
      requiredRole: 'MANAGER',
      yourRole: null,
    });
    assert.match(err.message, /you have no role in this team/);
  });

  test('every denial of every action carries its reason', () => {
    for (const scope of SCOPES) {
      for (const action of actionsOf(scope)) {
        const required = ruleFor(scope, action).default;
        const err = appErrorFrom(
          () =>
            authorize({
              scope,
              action: action as ActionOf<typeof scope>,
              memberships: holding(scope, 'VIEWER'),
              settings: {},
            }),
          403,
          'POLICY_DENIED',
        );
        assert.deepEqual(err.extensions.policy, {
          scope,
          action,
          requiredRole: required,
          yourRole: 'VIEWER',
        });
      }
    }
  });

  test('an allowed authorize returns the decision', () => {
    const decision = authorize({
      scope: 'org',
      action: 'audit.read',
      memberships: { orgRole: 'ADMIN' },
      settings: {},
    });
    assert.deepEqual(decision, {
      allowed: true,
      bypass: false,
      reason: { scope: 'org', action: 'audit.read', requiredRole: 'ADMIN', yourRole: 'ADMIN' },
    });
  });
});

describe('project creation (org and team checks)', () => {
  const open: PolicySettings = {
    org: { ...defaultOrgSettings(), thresholds: { 'project.create': 'MEMBER' } },
    team: { thresholds: { 'project.create': 'MEMBER' }, projectDefaults: {} },
  };
  const teamLocked: PolicySettings = {
    ...open,
    team: { thresholds: { 'project.create': 'OWNER' }, projectDefaults: {} },
  };
  const orgLocked: PolicySettings = {
    ...open,
    org: { ...defaultOrgSettings(), thresholds: { 'project.create': 'OWNER' } },
  };

  test('outside a team only the org check applies', () => {
    const m: Memberships = { orgRole: 'MEMBER' };
    assert.equal(decideProjectCreation({ memberships: m, settings: open, inTeam: false }).allowed, true);
    assert.equal(
      decideProjectCreation({ memberships: m, settings: orgLocked, inTeam: false }).allowed,
      false,
    );
  });

  test('inside a team both must pass; the first failure is reported', () => {
    const m: Memberships = { orgRole: 'MEMBER', teamRole: 'MEMBER' };
    assert.equal(decideProjectCreation({ memberships: m, settings: open, inTeam: true }).allowed, true);
    const team = decideProjectCreation({ memberships: m, settings: teamLocked, inTeam: true });
    assert.equal(team.allowed, false);
    assert.deepEqual(team.reason, {
      scope: 'team',
      action: 'project.create',
      requiredRole: 'OWNER',
      yourRole: 'MEMBER',
    });
    const org = decideProjectCreation({ memberships: m, settings: orgLocked, inTeam: true });
    assert.equal(org.allowed, false);
    assert.equal(org.reason.scope, 'org');
  });

  test('for an org ADMIN either suffices; the org OWNER always passes', () => {
    const admin: Memberships = { orgRole: 'ADMIN' };
    assert.equal(
      decideProjectCreation({ memberships: admin, settings: teamLocked, inTeam: true }).allowed,
      true,
    );
    assert.equal(
      decideProjectCreation({ memberships: admin, settings: orgLocked, inTeam: true }).allowed,
      true,
    );
    const bothLocked: PolicySettings = { org: orgLocked.org, team: teamLocked.team };
    assert.equal(
      decideProjectCreation({ memberships: admin, settings: bothLocked, inTeam: true }).allowed,
      false,
    );
    const owner = decideProjectCreation({
      memberships: { orgRole: 'OWNER' },
      settings: bothLocked,
      inTeam: true,
    });
    assert.deepEqual([owner.allowed, owner.bypass], [true, true]);
  });
});

describe('task updates', () => {
  const onlyAssignee: PolicySettings = {
    project: { ...defaultProjectSettings(), onlyAssigneeCanUpdateTask: true },
  };
  const raised: PolicySettings = {
    project: { ...defaultProjectSettings(), thresholds: { 'task.update': 'MANAGER' } },
  };
  const as = (projectRole: ProjectRole | null, orgRole: OrgRole | null = 'MEMBER'): Memberships => ({
    orgRole,
    projectRole,
    visibility: 'PRIVATE',
  });

  test('task.update, or the creator or assignee regardless of the threshold', () => {
    const cases: [Memberships, PolicySettings, boolean, boolean, boolean][] = [
      [as('CONTRIBUTOR'), {}, false, false, true],
      [as('VIEWER'), {}, false, false, false],
      [as('VIEWER'), {}, true, false, true],
      [as('VIEWER'), {}, false, true, true],
      [as('LEAD'), raised, false, false, false],
      [as('LEAD'), raised, true, false, true],
      [as('MANAGER'), raised, false, false, true],
      [as(null), {}, true, true, false],
      [as('OWNER', null), {}, true, true, false],
      [as(null, 'OWNER'), raised, false, false, true],
    ];
    for (const [memberships, settings, isCreator, isAssignee, allowed] of cases) {
      const d = decideTaskUpdate({ memberships, settings, isCreator, isAssignee });
      assert.equal(d.allowed, allowed, JSON.stringify({ memberships, settings, isCreator, isAssignee }));
    }
  });

  test('onlyAssigneeCanUpdateTask: only the assignee and project MANAGER+', () => {
    const cases: [Memberships, boolean, boolean, boolean][] = [
      [as('LEAD'), true, false, false],
      [as('VIEWER'), false, true, true],
      [as('LEAD'), false, false, false],
      [as('MANAGER'), false, false, true],
      [as('OWNER'), false, false, true],
      [as(null, 'ADMIN'), false, false, true],
      [as(null, 'OWNER'), false, false, true],
    ];
    for (const [memberships, isCreator, isAssignee, allowed] of cases) {
      const d = decideTaskUpdate({ memberships, settings: onlyAssignee, isCreator, isAssignee });
      assert.equal(d.allowed, allowed, JSON.stringify({ memberships, isCreator, isAssignee }));
    }
    const denied = decideTaskUpdate({
      memberships: as('LEAD'),
      settings: onlyAssignee,
      isCreator: true,
      isAssignee: false,
    });
    assert.deepEqual(denied.reason, {
      scope: 'project',
      action: 'task.update',
      requiredRole: 'MANAGER',
      yourRole: 'LEAD',
    });
  });
});

describe('membership rules (product.md §4)', () => {
  type Outcome = 'ok' | 403 | 409 | 422;
  function outcome(fn: () => void): Outcome {
    try {
      fn();
      return 'ok';
    } catch (err) {
      assert.ok(err instanceof AppError, String(err));
      const expectedCode = { 403: 'FORBIDDEN', 409: 'OWNER_MUST_TRANSFER', 422: 'VALIDATION_FAILED' }[
        err.status
      ];
      assert.equal(err.code, expectedCode);
      return err.status as Outcome;
    }
  }

  // Hand-written, ranks 1..5 (VIEWER..OWNER) so the table holds for every ladder.
  // [actor, target, newRole, outcome]
  const ROLE_CHANGES: [number, number, number, Outcome][] = [
    [5, 4, 3, 'ok'], // OWNER demotes ADMIN/MANAGER
    [5, 1, 4, 'ok'], // OWNER gives any role below OWNER
    [5, 3, 5, 422], // OWNER is never given
    [5, 5, 4, 409], // the OWNER's own role: transfer first
    [4, 3, 2, 'ok'],
    [4, 1, 3, 'ok'],
    [4, 3, 4, 403], // not below the actor's own
    [4, 4, 3, 403], // does not outrank the target
    [4, 5, 3, 409],
    [3, 2, 1, 'ok'],
    [3, 1, 2, 'ok'],
    [3, 2, 3, 403],
    [3, 3, 1, 403],
    [3, 4, 1, 403],
    [2, 1, 1, 'ok'],
    [2, 1, 2, 403],
    [2, 2, 1, 403],
    [1, 1, 1, 403],
    [1, 2, 1, 403],
    [2, 1, 5, 422],
  ];

  for (const scope of SCOPES) {
    test(`${scope}: role changes (hand-written table)`, () => {
      for (const [actor, target, next, expected] of ROLE_CHANGES) {
        const input = {
          scope,
          actorRole: roleAt(scope, actor),
          targetRole: roleAt(scope, target),
          newRole: roleAt(scope, next),
        };
        assert.equal(
          outcome(() => checkRoleChange(input)),
          expected,
          JSON.stringify(input),
        );
      }
    });

    test(`${scope}: role changes, every actor × target × new role`, () => {
      for (const actorRole of rolesOf(scope)) {
        for (const targetRole of rolesOf(scope)) {
          for (const newRole of rolesOf(scope)) {
            const a = rank(scope, actorRole);
            const expected: Outcome =
              newRole === 'OWNER'
                ? 422
                : targetRole === 'OWNER'
                  ? 409
                  : a > rank(scope, targetRole) && rank(scope, newRole) < a
                    ? 'ok'
                    : 403;
            const got = outcome(() => checkRoleChange({ scope, actorRole, targetRole, newRole }));
            assert.equal(got, expected, `${actorRole} sets ${targetRole} → ${newRole}`);
            // The org OWNER bypass: anyone not OWNER, to anything below OWNER.
            const bypassed = outcome(() =>
              checkRoleChange({ scope, actorRole: null, actorBypass: true, targetRole, newRole }),
            );
            assert.equal(bypassed, newRole === 'OWNER' ? 422 : targetRole === 'OWNER' ? 409 : 'ok');
          }
        }
      }
    });

    test(`${scope}: removals and leaving`, () => {
      for (const actorRole of rolesOf(scope)) {
        for (const targetRole of rolesOf(scope)) {
          const expected: Outcome =
            targetRole === 'OWNER' ? 409 : rank(scope, actorRole) > rank(scope, targetRole) ? 'ok' : 403;
          assert.equal(
            outcome(() => checkRemoval({ scope, actorRole, targetRole, self: false })),
            expected,
            `${actorRole} removes ${targetRole}`,
          );
          assert.equal(
            outcome(() =>
              checkRemoval({ scope, actorRole: null, actorBypass: true, targetRole, self: false }),
            ),
            targetRole === 'OWNER' ? 409 : 'ok',
          );
        }
        // Leaving: anyone but the OWNER, unless self-removal is off (the org OWNER bypass still may).
        const leave = (allowSelfRemoval?: boolean, actorBypass?: boolean) =>
          outcome(() =>
            checkRemoval({
              scope,
              actorRole,
              targetRole: actorRole,
              self: true,
              allowSelfRemoval,
              actorBypass,
            }),
          );
        const owner = actorRole === 'OWNER';
        assert.equal(leave(), owner ? 409 : 'ok');
        assert.equal(leave(true), owner ? 409 : 'ok');
        assert.equal(leave(false), owner ? 409 : 403);
        assert.equal(leave(false, true), owner ? 409 : 'ok');
      }
      assert.equal(
        outcome(() => checkRemoval({ scope, actorRole: null, targetRole: 'VIEWER', self: false })),
        403,
      );
    });

    test(`${scope}: granted roles (invites, adds) are below the actor's own, never OWNER`, () => {
      for (const actorRole of rolesOf(scope)) {
        for (const role of rolesOf(scope)) {
          const expected: Outcome =
            role === 'OWNER' ? 422 : rank(scope, role) < rank(scope, actorRole) ? 'ok' : 403;
          assert.equal(
            outcome(() => checkGrantedRole({ scope, actorRole, role })),
            expected,
            `${actorRole} gives ${role}`,
          );
          assert.equal(
            outcome(() => checkGrantedRole({ scope, actorRole: null, actorBypass: true, role })),
            role === 'OWNER' ? 422 : 'ok',
          );
        }
      }
      assert.equal(
        outcome(() => checkGrantedRole({ scope, actorRole: null, role: 'VIEWER' })),
        403,
      );
    });
  }

  test('messages say which rule', () => {
    const outrank = appErrorFrom(
      () => checkRoleChange({ scope: 'org', actorRole: 'ADMIN', targetRole: 'ADMIN', newRole: 'MEMBER' }),
      403,
      'FORBIDDEN',
    );
    assert.match(outrank.message, /ranked below you: you are ADMIN and they are ADMIN/);
    const below = appErrorFrom(
      () => checkGrantedRole({ scope: 'project', actorRole: 'MANAGER', role: 'MANAGER' }),
      403,
      'FORBIDDEN',
    );
    assert.match(below.message, /roles below your own \(MANAGER\)/);
    const owner = appErrorFrom(
      () => checkGrantedRole({ scope: 'org', actorRole: 'OWNER', role: 'OWNER' }),
      422,
      'VALIDATION_FAILED',
    );
    assert.deepEqual(owner.errors, [
      { path: 'role', message: 'OWNER is only given by an ownership transfer' },
    ]);
    const leave = appErrorFrom(
      () => checkRemoval({ scope: 'team', actorRole: 'OWNER', targetRole: 'OWNER', self: true }),
      409,
      'OWNER_MUST_TRANSFER',
    );
    assert.match(leave.message, /team owner cannot leave; transfer ownership first/);
    const remove = appErrorFrom(
      () => checkRemoval({ scope: 'org', actorRole: 'ADMIN', targetRole: 'OWNER', self: false }),
      409,
      'OWNER_MUST_TRANSFER',
    );
    assert.match(remove.message, /org owner cannot be removed/);
    const off = appErrorFrom(
      () =>
        checkRemoval({
          scope: 'org',
          actorRole: 'MEMBER',
          targetRole: 'MEMBER',
          self: true,
          allowSelfRemoval: false,
        }),
      403,
      'FORBIDDEN',
    );
    assert.match(off.message, /allowSelfRemoval/);
  });

  test('unknown roles are programmer errors', () => {
    assert.throws(() =>
      checkRoleChange({ scope: 'team', actorRole: 'OWNER', targetRole: 'MEMBER', newRole: 'CONTRIBUTOR' }),
    );
    assert.throws(() =>
      checkRoleChange({
        scope: 'org',
        actorRole: null,
        actorBypass: true,
        targetRole: 'LEAD',
        newRole: 'MEMBER',
      }),
    );
    assert.throws(() => checkGrantedRole({ scope: 'project', actorRole: 'OWNER', role: 'MEMBER' }));
  });

  test('after a transfer the former owner becomes ADMIN (org) or MANAGER (team, project)', () => {
    assert.equal(formerOwnerRole('org'), 'ADMIN');
    assert.equal(formerOwnerRole('team'), 'MANAGER');
    assert.equal(formerOwnerRole('project'), 'MANAGER');
  });
});

// Type-level: the generic signatures narrow to each ladder.
const _orgThreshold: RoleOf<'org'> = thresholdFor('org', 'member.invite', {});
const _projectAction: ActionOf<'project'> = 'comment.moderate';
void _orgThreshold;
void _projectAction;
