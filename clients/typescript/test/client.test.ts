import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startSuite, type Suite } from '../../../e2e/support/suite.ts';
import { generated } from '../scripts/schema-text.ts';
import {
  createTrellisClient,
  pages,
  TrellisProblem,
  TrellisRealtime,
  unwrap,
  type RealtimeMessage,
  type TrellisClient,
} from '../src/index.ts';

// @trellis/client against the real suite (gateway, six services, Kafka, PostgreSQL, FerretDB).

describe('@trellis/client', () => {
  let suite: Suite;
  let client: TrellisClient;

  before(async () => {
    suite = await startSuite();
    client = createTrellisClient({ baseUrl: suite.gatewayUrl });
    await client.register({
      email: `sdk-${randomUUID().slice(0, 8)}@example.test`,
      password: 'correct horse battery',
      name: 'Sam SDK',
    });
  });

  after(() => suite?.close());

  /** A project created at once (201), not one waiting for an approval (202): the types say both may come. */
  async function newProject(orgId: string, name: string, key: string) {
    const created = await unwrap(client.api.POST('/api/v1/projects', { body: { orgId, name, key } }));
    assert.ok('id' in created, 'created, not waiting for approval');
    return created;
  }

  test('its generated types match the API the gateway documents (run scripts/generate.ts when this fails)', async () => {
    const document = (await (await fetch(`${suite.gatewayUrl}/api/openapi.json`)).json()) as Record<
      string,
      unknown
    >;
    const committed = readFileSync(join(import.meta.dirname, '..', 'src', 'schema.ts'), 'utf8');
    assert.ok(committed === (await generated(document)), 'src/schema.ts is stale: the API changed');
  });

  test('typed calls; a problem is thrown typed, with its code and field errors; another tenant is 404', async () => {
    const { api } = client;
    const org = await unwrap(api.POST('/api/v1/orgs', { body: { name: `SDK ${randomUUID().slice(0, 6)}` } }));
    assert.equal(org.myRole, 'OWNER');
    const invalid = await unwrap(api.POST('/api/v1/orgs', { body: { name: '' } })).catch(
      (err: unknown) => err,
    );
    assert.ok(invalid instanceof TrellisProblem);
    assert.equal(invalid.status, 400);
    assert.equal(invalid.code, 'VALIDATION_FAILED');
    assert.ok(invalid.errors.some((e) => e.path.includes('name')));

    const member = createTrellisClient({ baseUrl: suite.gatewayUrl });
    await member.register({
      email: `m-${randomUUID().slice(0, 8)}@example.test`,
      password: 'correct horse battery',
      name: 'Mo',
    });
    const denied = await unwrap(
      member.api.GET('/api/v1/orgs/{orgId}/audit', { params: { path: { orgId: org.id } } }),
    ).catch((err: unknown) => err);
    assert.ok(denied instanceof TrellisProblem);
    assert.equal(denied.status, 404, 'another tenant: 404, not 403');
  });

  test('a retried POST keeps its Idempotency-Key: one resource, the replayed answer', async () => {
    let sends = 0;
    const flaky = createTrellisClient({
      baseUrl: suite.gatewayUrl,
      tokens: client.tokens(),
      // The first answer is lost on the way back (the connection resets after the server acted).
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (sends++ === 0)
          throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } });
        return response;
      },
    });
    const name = `Once ${randomUUID().slice(0, 6)}`;
    const { data, response } = await flaky.api.POST('/api/v1/orgs', { body: { name } });
    assert.equal(response.status, 201);
    assert.equal(response.headers.get('idempotency-replayed'), 'true');
    const mine = await unwrap(client.api.GET('/api/v1/orgs', { params: { query: { limit: 100 } } }));
    assert.equal(mine.items.filter((o) => o.name === name).length, 1);
    assert.equal(mine.items.find((o) => o.name === name)?.id, data?.id);
  });

  test('a 401 refreshes the token pair once, rotates it, and retries', async () => {
    const before_ = client.tokens()!;
    const stale = createTrellisClient({
      baseUrl: suite.gatewayUrl,
      tokens: { accessToken: 'not-a-valid-token', refreshToken: before_.refreshToken },
    });
    const orgs = await unwrap(stale.api.GET('/api/v1/orgs', {}));
    assert.ok(Array.isArray(orgs.items));
    assert.notEqual(stale.tokens()?.refreshToken, before_.refreshToken, 'the refresh token rotated');
    assert.notEqual(stale.tokens()?.accessToken, 'not-a-valid-token');
    client.setTokens(stale.tokens());
  });

  test('pages() walks every item of a list across pages', async () => {
    const { api } = client;
    const org = await unwrap(
      api.POST('/api/v1/orgs', { body: { name: `Paged ${randomUUID().slice(0, 6)}` } }),
    );
    const project = await newProject(org.id, 'Paged', 'PAGE');
    for (let i = 1; i <= 7; i++)
      await unwrap(
        api.POST('/api/v1/projects/{id}/tasks', {
          params: { path: { id: project.id } },
          body: { title: `T${i}` },
        }),
      );
    const titles: string[] = [];
    for await (const task of pages((cursor) =>
      unwrap(
        api.GET('/api/v1/projects/{id}/tasks', {
          params: { path: { id: project.id }, query: { limit: 3, cursor } },
        }),
      ),
    ))
      titles.push(task.title);
    assert.deepEqual(titles.sort(), ['T1', 'T2', 'T3', 'T4', 'T5', 'T6', 'T7']);
  });

  test('the real-time client delivers each event once and resumes after a dropped socket', async () => {
    const { api } = client;
    const org = await unwrap(
      api.POST('/api/v1/orgs', { body: { name: `Live ${randomUUID().slice(0, 6)}` } }),
    );
    const project = await newProject(org.id, 'Live', 'LIVE');
    const seen: RealtimeMessage[] = [];
    const live = new TrellisRealtime(client, suite.gatewayUrl, { onEvent: (m) => seen.push(m) });
    await live.connect();
    const channel = `project:${project.id}`;
    await live.subscribe(channel);
    const create = (title: string) =>
      unwrap(
        api.POST('/api/v1/projects/{id}/tasks', { params: { path: { id: project.id } }, body: { title } }),
      );
    const until = async (count: number) => {
      for (let i = 0; i < 100 && seen.filter((m) => m.event.type === 'task.created').length < count; i++)
        await new Promise((resolve) => setTimeout(resolve, 100));
    };
    await create('before');
    await until(1);
    // The socket drops (as a network blip would); events written meanwhile come on the resume.
    (live as unknown as { socket: WebSocket }).socket.close(4000);
    await create('during 1');
    await create('during 2');
    await until(3);
    live.close();
    const created = seen.filter((m) => m.event.type === 'task.created').map((m) => m.event.data.title);
    assert.deepEqual(created, ['before', 'during 1', 'during 2']);
    const seqs = seen.map((m) => m.seq);
    assert.deepEqual(
      seqs,
      [...new Set(seqs)].sort((a, b) => a - b),
      'seqs in order, none twice',
    );
  });
});
