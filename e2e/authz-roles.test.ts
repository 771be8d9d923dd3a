// Issue 20, part (c) of the authorization walk (a and b: authz-walk.test.ts): every operation of the
// merged OpenAPI document says in `x-policy` what decides it, and is called as each role of that
// ladder. A catalogue action ({scope, action}): below the threshold in force (read from
// GET /orgs/{id}/policy, never written here) 403 POLICY_DENIED with exactly {scope, action,
// requiredRole, yourRole}; at or above it, anything but a denial, a 404 or a 5xx (other refusals,
// e.g. a 409 because an earlier role already did it, are counted). `access`: every role of the
// ladder reads it. `personal` and `self` are decided by whose the object is, not by a role. An
// operation without `x-policy`, or naming an action the rule book does not know, fails the walk.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { WebhookReceiver } from '@trellis/shared/testing';
import { apiClient, type ApiClient, type ApiResponse } from './support/client.ts';
import {
  accessScope,
  atLeast,
  fillFor,
  isDestructive,
  isSettingsChange,
  ladderOrg,
  policyOf,
  thresholds,
  walkOrder,
  type LadderOrg,
} from './support/ladders.ts';
import type { Person } from './support/people.ts';
import type { Suite } from './support/suite.ts';
import {
  operationsOf,
  requestOf,
  walkSuite,
  type OpenApiDocument,
  type WalkOperation,
} from './support/walk.ts';

type Body = { code?: string; detail?: string; policy?: { yourRole?: string | null } };
type Response = ApiResponse<Body>;

/** How long a service may take to learn a role from another's events (collab, notify). */
const SETTLE_MS = 20_000;

const brief = (res: Response) => `${res.status} ${JSON.stringify(res.body).slice(0, 300)}`;
const denied = (res: Response) => res.status === 403 && res.body.code === 'POLICY_DENIED';
const detail = (res: Response) => JSON.stringify(res.body.detail ?? '');

describe('authorization walk (c): each role of each ladder gets what the rule book says (issue 20)', () => {
  let suite: Suite;
  let api: ApiClient;
  let receiver: WebhookReceiver;
  let org: LadderOrg;
  let operations: WalkOperation[];
  let rules: Map<string, string>;
  const kinds = { action: 0, access: 0, personal: 0, self: 0 };
  const counts = { calls: 0, denials: 0, allowed: 0, read: 0, stopped: 0 };
  /** Allowed calls refused by another rule than the role (status → operations). */
  const refused: Record<number, string[]> = {};

  before(async () => {
    suite = await walkSuite();
    api = apiClient(suite.gatewayUrl);
    receiver = new WebhookReceiver();
    org = await ladderOrg(api, { base: await receiver.start(), hooks: receiver });
    const res = await fetch(`${suite.gatewayUrl}/api/openapi.json`);
    assert.equal(res.status, 200);
    const document = (await res.json()) as OpenApiDocument;
    assert.equal(document['x-unavailable'], undefined, 'every service is in the document');
    operations = operationsOf(document).filter((op) => op.class === 'caller' || op.class === 'tenant');
    rules = await thresholds(api, org);
  });

  after(async () => {
    const others = Object.entries(refused).map(([status, labels]) => `${status} × ${labels.length}`);
    console.log(
      `authz roles walk: ${operations?.length ?? 0} protected operations; by x-policy: catalogue action` +
        ` ${kinds.action}, access ${kinds.access}, personal ${kinds.personal}, self ${kinds.self};` +
        ` role calls ${counts.calls}: denials matched ${counts.denials}, allowed ${counts.allowed}` +
        ` (2xx ${counts.allowed - Object.values(refused).flat().length}, refused by another rule:` +
        ` ${others.join(', ') || 'none'}), access reads ${counts.read};` +
        ` destructive operations stopped after their first allowed role: ${counts.stopped}`,
    );
    for (const [status, labels] of Object.entries(refused)) console.log(`  ${status}: ${labels.join('; ')}`);
    await suite?.close();
    await receiver?.close();
  });

  const call = (op: WalkOperation, who: Person) => {
    const request = requestOf(op, fillFor(op, org));
    return api.call<Body>(request.method, request.path, { body: request.body, token: who.token });
  };

  /**
   * A call, made again while the service has not learnt the caller's role yet (events between
   * services take a moment): a 404, or a denial naming another role than theirs. Nothing happened then.
   */
  async function settled(op: WalkOperation, who: Person, role: string): Promise<Response> {
    const deadline = Date.now() + SETTLE_MS;
    for (;;) {
      const res = await call(op, who);
      const lagging = res.status === 404 || (denied(res) && res.body.policy?.yourRole !== role);
      if (!lagging || Date.now() > deadline) return res;
      await sleep(250);
    }
  }

  /** The settings a settings change is about, as the org OWNER reads them before. */
  async function settingsNow(op: WalkOperation) {
    const res = await api.get<Record<string, unknown>>(requestOf(op, fillFor(op, org)).path, org.owner.token);
    assert.equal(res.status, 200, `${op.label}: reading the settings → ${JSON.stringify(res.body)}`);
    return res.body;
  }

  /** What a settings change changed, put back by the org OWNER (the fields of the example body). */
  async function restore(op: WalkOperation, saved: Record<string, unknown>) {
    const example = op.operation.requestBody?.content?.['application/json']?.example;
    const body = Object.fromEntries(Object.keys(example ?? {}).map((field) => [field, saved[field]]));
    const { path } = requestOf(op, fillFor(op, org));
    const res = await api.patch(path, body, org.owner.token);
    assert.equal(res.status, 200, `${op.label}: restoring the settings → ${JSON.stringify(res.body)}`);
  }

  test('every protected operation says in x-policy what decides it, in words the rule book knows', () => {
    const unknown: string[] = [];
    for (const op of operations) {
      const policy = policyOf(op);
      if (policy === undefined) unknown.push(`${op.label}: no x-policy`);
      else if (typeof policy === 'string') kinds[policy]++;
      else if (!rules.has(`${policy.scope} ${policy.action}`))
        unknown.push(`${op.label}: ${policy.scope} ${policy.action} is not in the rule book`);
      else kinds.action++;
    }
    assert.deepEqual(unknown, [], 'operations the walk cannot classify');
    assert.ok(operations.length >= 100, `${operations.length} protected operations`);
  });

  test('each role gets the rule book’s answer: 403 POLICY_DENIED below the threshold, never above', async () => {
    const wrong: string[] = [];
    for (const op of walkOrder(operations)) {
      const policy = policyOf(op);
      if (policy === 'access') {
        for (const { role, who } of org.ladders[accessScope(op)]) {
          const res = await settled(op, who, role);
          counts.calls++;
          counts.read++;
          if (res.status === 403 || res.status === 404 || res.status >= 500)
            wrong.push(`${op.label} as ${accessScope(op)} ${role} → ${brief(res)} (access expected)`);
        }
        continue;
      }
      if (typeof policy !== 'object') continue;
      const { scope, action } = policy;
      const requiredRole = rules.get(`${scope} ${action}`);
      if (!requiredRole) continue; // reported by the classification test
      const saved = isSettingsChange(op) ? await settingsNow(op) : undefined;
      // Read at each step: a transfer makes the heir the ladder's OWNER.
      for (let rung = 0; rung < org.ladders[scope].length; rung++) {
        const { role, who } = org.ladders[scope][rung] as { role: string; who: Person };
        const where = `${op.label} as ${scope} ${role}`;
        const res = await settled(op, who, role);
        counts.calls++;
        if (!atLeast(scope, role, requiredRole)) {
          const expected = { scope, action, requiredRole, yourRole: role };
          if (!denied(res) || !isDeepStrictEqual(res.body.policy, expected))
            wrong.push(`${where} → ${brief(res)} (expected POLICY_DENIED ${JSON.stringify(expected)})`);
          else counts.denials++;
          continue;
        }
        if (denied(res) || res.status === 404 || res.status >= 500) {
          wrong.push(`${where} → ${brief(res)} (${requiredRole} needed: allowed)`);
          continue;
        }
        counts.allowed++;
        if (res.status >= 300)
          (refused[res.status] ??= []).push(`${where}: ${String(res.body.code)} ${detail(res)}`);
        else if (saved) await restore(op, saved);
        if (res.status < 300 && op.path.endsWith('/transfer-ownership')) {
          const top = org.ladders[scope].at(-1) as { who: Person };
          top.who = org.heir;
        }
        if (res.status < 300 && isDestructive(op)) {
          counts.stopped++;
          break;
        }
      }
    }
    assert.deepEqual(wrong, [], 'answers other than the rule book’s');
  });
});
