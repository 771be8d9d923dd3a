import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AppError,
  FIXED_ACTION_RULES,
  authorize,
  authorizeRole,
  catalogue,
  decide,
  defaultOrgSettings,
  explain,
  requiredRoleFor,
  ruleBook,
  scopesOfAction,
  type Scope,
} from '../src/index.ts';

test('the catalogue lists every configurable and fixed action once, fixed ones with min = max = default', () => {
  const keys = catalogue().map((e) => `${e.scope}:${e.action}`);
  assert.equal(new Set(keys).size, keys.length);
  for (const scope of ['org', 'team', 'project'] as Scope[])
    for (const [action, rule] of Object.entries(FIXED_ACTION_RULES[scope])) {
      const entry = catalogue().find((e) => e.scope === scope && e.action === action);
      assert.deepEqual(
        [entry?.configurable, entry?.min, entry?.max, entry?.default],
        [false, rule.role, rule.role, rule.role],
      );
    }
  assert.ok(catalogue().some((e) => e.configurable && e.action === 'task.create'));
});

test('a fixed action is decided and denied like a threshold, with the same policy body', () => {
  assert.equal(requiredRoleFor('org', 'org.delete'), 'OWNER');
  assert.equal(
    decide({ scope: 'org', action: 'org.update', memberships: { orgRole: 'ADMIN' } }).allowed,
    true,
  );
  assert.throws(
    () => authorize({ scope: 'org', action: 'org.delete', memberships: { orgRole: 'ADMIN' } }),
    (err: unknown) =>
      err instanceof AppError &&
      err.status === 403 &&
      JSON.stringify(err.extensions?.policy) ===
        JSON.stringify({ scope: 'org', action: 'org.delete', requiredRole: 'OWNER', yourRole: 'ADMIN' }),
  );
  // The org OWNER's bypass covers fixed actions inside the org.
  assert.equal(
    authorizeRole({ scope: 'project', action: 'project.delete', role: 'VIEWER', bypass: true }).allowed,
    true,
  );
  assert.equal(
    decide({ scope: 'project', action: 'task.beAssigned', memberships: { orgRole: 'MEMBER' } }).allowed,
    false,
  );
});

test("team settings: the team OWNER, or whoever may change the org's settings (orOrg)", () => {
  const allowed = (orgRole: 'ADMIN' | 'MANAGER', teamRole: 'OWNER' | 'MANAGER' | null) =>
    decide({ scope: 'team', action: 'settings.update', memberships: { orgRole, teamRole } }).allowed;
  assert.equal(allowed('MANAGER', 'OWNER'), true);
  assert.equal(allowed('ADMIN', null), true);
  assert.equal(allowed('MANAGER', 'MANAGER'), false);
  const denied = decide({
    scope: 'team',
    action: 'settings.update',
    memberships: { orgRole: 'MEMBER', teamRole: 'MANAGER' },
  });
  assert.deepEqual(denied.reason, {
    scope: 'team',
    action: 'settings.update',
    requiredRole: 'OWNER',
    yourRole: 'MANAGER',
  });
});

test('the rule book names where each threshold in force comes from', () => {
  const org = {
    ...defaultOrgSettings(),
    thresholds: { 'team.create': 'MEMBER' as const },
    projectDefaults: { 'task.delete': 'LEAD' as const },
  };
  const book = ruleBook({
    org,
    project: { thresholds: {}, inherit: 'org', onlyAssigneeCanUpdateTask: false },
  });
  const find = (scope: Scope, action: string) => book.find((e) => e.scope === scope && e.action === action);
  assert.deepEqual(
    [find('org', 'team.create')?.threshold, find('org', 'team.create')?.source],
    ['MEMBER', 'org'],
  );
  assert.deepEqual(
    [find('project', 'task.delete')?.threshold, find('project', 'task.delete')?.source],
    ['LEAD', 'org'],
  );
  assert.deepEqual(
    [find('org', 'audit.read')?.threshold, find('org', 'audit.read')?.source],
    ['ADMIN', 'system'],
  );
  assert.deepEqual(
    [find('org', 'org.delete')?.threshold, find('org', 'org.delete')?.source],
    ['OWNER', 'system'],
  );
  assert.equal(book.length, catalogue().length);
});

test('explain reports the decision, the effective role and its source', () => {
  const e = explain({
    scope: 'project',
    action: 'task.delete',
    memberships: { orgRole: 'MEMBER', teamRole: 'LEAD', projectHasTeam: true },
    settings: {},
  });
  assert.deepEqual(e, {
    scope: 'project',
    action: 'task.delete',
    allowed: false,
    requiredRole: 'MANAGER',
    effectiveRole: 'LEAD',
    source: 'system',
    roleSource: 'team',
    bypass: false,
  });
  assert.deepEqual(scopesOfAction('member.add').sort(), ['project', 'team']);
  assert.deepEqual(scopesOfAction('nothing'), []);
});
