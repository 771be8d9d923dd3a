// Issue 20: authorization and tenancy, walked from the merged OpenAPI document rather than from a
// hand list, so a new route is checked (or fails the walk) the day it is documented. Every
// operation is classified (support/walk.ts); every protected one answers 401 without a token;
// every tenant-scoped one answers 404 to the owner of another org pointing it at this org's
// objects (product.md §1: existence is not leaked), also when the stranger mixes one of them into
// a request about its own org; and the stranger changes nothing: what the victim's owner reads
// before and after the stranger's passes is the same.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { WebhookReceiver } from '@trellis/shared/testing';
import { apiClient, type ApiClient, type ApiResponse } from './support/client.ts';
import { person, type Person } from './support/people.ts';
import type { Suite } from './support/suite.ts';
import {
  absent,
  census,
  oneSlot,
  operationsOf,
  pointAt,
  requestOf,
  tenantOrg,
  type Fill,
  type Ids,
  type OpenApiDocument,
  type WalkOperation,
  walkSuite,
} from './support/walk.ts';

/**
 * The operations a non-member reaches on purpose, and what the stranger gets instead of 404. Any
 * other answer than 404 (or than the one listed here) fails the walk.
 */
const STRANGER_EXCEPTIONS: Record<
  string,
  { status: number; reason: string; check?: (body: unknown) => void }
> = {
  'GET /api/v1/orgs/by-slug/{slug}': {
    status: 200,
    reason: 'api.md §3: anyone signed in finds an org by slug to ask to join it; {id, name, slug} only',
    check: (body) => assert.deepEqual(Object.keys(body as object).sort(), ['id', 'name', 'slug']),
  },
  'POST /api/v1/orgs/{orgId}/join-requests': {
    status: 403,
    reason:
      'api.md §3: anyone signed in may ask to join an org found by slug; 403 FORBIDDEN while join requests are off (as the victim left them)',
  },
};

type Body = Record<string, unknown>;
type Snapshot = { bodies: Record<string, unknown>; refused: string[] };

const isProblem = (res: ApiResponse<unknown>) =>
  /^application\/problem\+json/.test(res.headers.get('content-type') ?? '');
const brief = (res: ApiResponse<unknown>) => `${res.status} ${JSON.stringify(res.body).slice(0, 300)}`;
const codeOf = (res: ApiResponse<unknown>) => (res.body as Body).code;

describe('authorization walk over every documented operation (issue 20)', () => {
  let suite: Suite;
  let api: ApiClient;
  let receiver: WebhookReceiver;
  let owner: Person, stranger: Person;
  /** The victim's objects, and the stranger's (an org as full as the victim's). */
  let ids: Ids, theirs: Ids;
  let operations: WalkOperation[];
  let before_: Snapshot;
  const counts = { unauthenticated: 0, stranger: 0, exceptions: 0, filtered: 0, mixed: 0, snapshot: 0 };

  const call = (op: WalkOperation, fill: Fill, token?: string) => {
    const request = requestOf(op, fill);
    return api.call<unknown>(request.method, request.path, { body: request.body, token });
  };

  /**
   * What the owner reads through every protected GET pointed at the victim's objects: the bodies
   * of those that answer 200 (none needs normalising: nothing in them moves by itself once the
   * events in flight have landed), and the others.
   */
  async function snapshot(): Promise<Snapshot> {
    const bodies: Record<string, unknown> = {};
    const refused: string[] = [];
    for (const op of operations.filter(
      (o) => o.method === 'get' && (o.class === 'caller' || o.class === 'tenant'),
    )) {
      const res = await call(op, pointAt(ids), owner.token);
      if (res.status === 200) bodies[op.label] = res.body;
      else refused.push(`${op.label} → ${brief(res)}`);
    }
    return { bodies, refused };
  }

  /** A snapshot once two in a row agree: events still in flight (projections, deliveries) have landed. */
  async function settledSnapshot(what: string): Promise<Snapshot> {
    let last = await snapshot();
    let moving: string[] = [];
    for (let attempt = 0; attempt < 30; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const next = await snapshot();
      if (isDeepStrictEqual(next, last)) return next;
      moving = Object.keys(next.bodies).filter((l) => !isDeepStrictEqual(next.bodies[l], last.bodies[l]));
      last = next;
    }
    throw new Error(`the victim's data did not settle ${what}: ${moving.join(', ')}`);
  }

  before(async () => {
    suite = await walkSuite();
    api = apiClient(suite.gatewayUrl);
    receiver = new WebhookReceiver();
    const hooks = { base: await receiver.start(), hooks: receiver };
    const [member, outsider, strangerMember] = await Promise.all(
      ['Mick Member', 'Otto Outsider', 'Sue Stranger-Member'].map((name) => person(api, name)),
    );
    [owner, stranger] = await Promise.all([person(api, 'Vera Victim'), person(api, 'Stan Stranger')]);
    assert.ok(member && outsider && strangerMember);
    // The outsider asks to join both orgs: a pending request is no membership.
    ids = await tenantOrg(api, hooks, { owner, member, outsider }, 'VIC');
    theirs = await tenantOrg(api, hooks, { owner: stranger, member: strangerMember, outsider }, 'STR');
    const res = await fetch(`${suite.gatewayUrl}/api/openapi.json`);
    assert.equal(res.status, 200);
    const document = (await res.json()) as OpenApiDocument;
    assert.equal(document['x-unavailable'], undefined, 'every service is in the document');
    operations = operationsOf(document);
  });

  after(async () => {
    if (operations) {
      const c = census(operations);
      const classified = c.total - c.unclassified.length;
      console.log(
        `authz walk: ${c.total} operations in the document; classified ${classified}` +
          ` (${Math.round((100 * classified) / c.total)} %): public ${c.public.length},` +
          ` caller-scoped ${c.caller.length}, tenant-scoped ${c.tenant.length}; checked for 401:` +
          ` ${counts.unauthenticated}; checked for the stranger's 404: ${counts.stranger}` +
          ` (+ ${counts.exceptions} listed exceptions); the stranger's caller-scoped reads filtered by the` +
          ` victim's ids: ${counts.filtered}; mixed requests (one victim object among the stranger's):` +
          ` ${counts.mixed}; owner's GETs in the snapshot: ${counts.snapshot}`,
      );
    }
    await suite?.close();
    await receiver?.close();
  });

  test('every operation of the document is classified: public, caller-scoped or tenant-scoped', () => {
    const c = census(operations);
    assert.ok(c.total >= 100, `${c.total} operations`);
    assert.deepEqual(
      c.unclassified.map((op) => `${op.label}: ${op.reason}`),
      [],
      'unclassified operations (support/walk.ts says how operations are classified)',
    );
    assert.equal(c.public.length + c.caller.length + c.tenant.length, c.total);
    for (const label of Object.keys(STRANGER_EXCEPTIONS))
      assert.ok(
        c.tenant.some((op) => op.label === label),
        `${label}: an exception for a tenant-scoped operation`,
      );
  });

  test('every protected operation answers 401 problem+json without a token', async () => {
    const wrong: string[] = [];
    for (const op of operations.filter((o) => o.class === 'caller' || o.class === 'tenant')) {
      const res = await call(op, pointAt(ids));
      counts.unauthenticated++;
      if (res.status !== 401 || !isProblem(res) || codeOf(res) !== 'UNAUTHENTICATED')
        wrong.push(`${op.label} → ${brief(res)}`);
    }
    assert.deepEqual(wrong, []);
    const c = census(operations);
    assert.equal(counts.unauthenticated, c.caller.length + c.tenant.length);
  });

  test("another org's owner gets 404 from every tenant-scoped operation on the victim's objects", async () => {
    const mine = await api.get<{ items: { id: string }[] }>('/orgs', stranger.token);
    assert.deepEqual(
      mine.body.items.map((org) => org.id),
      [theirs.org],
      'the stranger owns an org of its own and belongs to no other',
    );
    before_ = await settledSnapshot('before the stranger');
    // The owner reads all of it: the ids point at real objects, so the stranger's 404s mean something.
    assert.deepEqual(before_.refused, [], "the owner reads every one of the victim's objects");
    counts.snapshot = Object.keys(before_.bodies).length;

    const wrong: string[] = [];
    for (const op of operations.filter((o) => o.class === 'tenant')) {
      const res = await call(op, pointAt(ids), stranger.token);
      const exception = STRANGER_EXCEPTIONS[op.label];
      if (exception) counts.exceptions++;
      else counts.stranger++;
      const expected = exception?.status ?? 404;
      if (res.status !== expected) wrong.push(`${op.label} → ${brief(res)} (expected ${expected})`);
      else if (expected >= 400 && !isProblem(res)) wrong.push(`${op.label} → ${res.status} not problem+json`);
      else if (expected === 404 && codeOf(res) !== 'NOT_FOUND') wrong.push(`${op.label} → ${brief(res)}`);
      else exception?.check?.(res.body);
    }
    assert.deepEqual(wrong, [], 'the stranger got other answers than 404 (or than the listed exceptions)');
  });

  test("the stranger's own reads, filtered by the victim's objects, show nothing of them", async () => {
    // `GET /projects?orgId=<victim's>`, `GET /notifications?orgId=…`: 404, or the stranger's own data.
    const victims = Object.values(ids);
    const leaks: string[] = [];
    for (const op of operations.filter((o) => o.class === 'caller' && o.method === 'get')) {
      const res = await call(op, pointAt(ids, true), stranger.token);
      counts.filtered++;
      const text = JSON.stringify(res.body);
      const seen = victims.filter((id) => text.includes(id));
      if (res.status !== 404 && (res.status !== 200 || seen.length))
        leaks.push(`${op.label} → ${brief(res)} (the victim's ${seen.join(', ')})`);
    }
    assert.deepEqual(leaks, []);
  });

  test("one of the victim's objects in a request about the stranger's own answers as if it did not exist", async () => {
    // `POST /orgs/{theirs}/approvals/{victim's}/approve`, `POST /teams/{theirs}/members {userId:
    // victim's}`, `PATCH /tasks/{theirs} {sprintId: victim's}`…: the very answer an id that names
    // nothing gets (a 404, or the 422 of a reference that does not resolve), never a 2xx; only a
    // list's filter (`GET /tasks?orgId=…&sprintId=<victim's>`) may answer 200, with what it
    // answers for nothing.
    const wrong: string[] = [];
    for (const op of operations.filter((o) => o.class === 'tenant' && o.slots.length > 1))
      for (const slot of op.slots) {
        const [victim, none] = [ids[slot.kind], absent(slot.kind)];
        const foreign = await call(op, oneSlot(slot, victim, theirs), stranger.token);
        const nothing = await call(op, oneSlot(slot, none, theirs), stranger.token);
        counts.mixed++;
        const where = `${op.label} with the victim's ${slot.place} ${slot.name}`;
        const filter = slot.place === 'query' && !slot.required && op.method === 'get';
        // The same answer but for the id itself, which may be echoed (`…/policy/explain?userId=`),
        // and the request id of a problem: same status, code, detail and field errors.
        const same =
          foreign.status === nothing.status &&
          JSON.stringify({ ...(foreign.body as Body), requestId: 0 }).replaceAll(victim, none) ===
            JSON.stringify({ ...(nothing.body as Body), requestId: 0 });
        if (foreign.status >= 500 || (foreign.status < 300 && !filter))
          wrong.push(`${where} → ${brief(foreign)}`);
        else if (!same) wrong.push(`${where} → ${brief(foreign)}, but ${brief(nothing)} for nothing`);
      }
    assert.deepEqual(wrong, []);
  });

  test("the victim's data is unchanged after the stranger's passes", async () => {
    assert.ok(before_, 'the first snapshot was taken');
    const afterwards = await settledSnapshot('after the stranger');
    const changed = Object.keys({ ...before_.bodies, ...afterwards.bodies }).filter(
      (label) => !isDeepStrictEqual(before_.bodies[label], afterwards.bodies[label]),
    );
    assert.deepEqual(changed, [], "the victim's data changed");
    assert.deepEqual(afterwards.refused, before_.refused);
  });
});
