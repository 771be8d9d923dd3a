import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { waitFor } from '@trellis/shared/testing';
import { apiClient, assertProblem, type ApiClient } from './support/client.ts';
import { startSuite, type ServiceName, type Suite } from './support/suite.ts';

interface Session {
  user: { id: string };
  accessToken: string;
  refreshToken: string;
}

/** The status a WebSocket upgrade gets (101 when it is accepted). */
function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    ws.once('error', reject);
  });
}

// No service trusts the network (architecture.md §4): a token logged out is refused by every
// service on its own port too, not only by the gateway, within the second product.md §7 allows.
describe('revoked access tokens on the services’ own ports', () => {
  let suite: Suite;
  let api: ApiClient;
  let direct: Record<Exclude<ServiceName, 'gateway'>, ApiClient>;

  before(async () => {
    suite = await startSuite();
    api = apiClient(suite.gatewayUrl);
    const { identity, governance, work, collab, notify } = suite.urls;
    direct = {
      identity: apiClient(identity),
      governance: apiClient(governance),
      work: apiClient(work),
      collab: apiClient(collab),
      notify: apiClient(notify),
    };
  });

  after(() => suite?.close());

  test('after logout the token gets 401 from identity, governance, work, collab and notify within 1 s; another session goes on', async () => {
    const email = `revoked-${randomUUID()}@example.test`;
    const password = 'correct horse battery';
    const registered = await api.post<Session>('/auth/register', { email, password, name: 'Ada' });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    const session = registered.body;
    const other = (await api.post<Session>('/auth/login', { email, password })).body;
    const org = await api.post<{ id: string }>(
      '/orgs',
      { name: `Revocations ${randomUUID().slice(0, 6)}` },
      session.accessToken,
    );
    assert.equal(org.status, 201, JSON.stringify(org.body));

    // An authenticated route of each service, straight to its port.
    const routes: Record<keyof typeof direct, string> = {
      identity: '/users/me',
      governance: '/orgs',
      work: '/projects',
      collab: `/channels?orgId=${org.body.id}`,
      notify: '/notifications',
    };
    let last: Record<string, number> = {};
    /** Whether every service answers `status` to `token` (the answers kept in `last`). */
    const everyServiceAnswers = async (token: string, status: number) => {
      const answers = await Promise.all(
        Object.entries(routes).map(async ([name, path]) => {
          const res = await direct[name as keyof typeof direct].get(path, token);
          return [name, res.status] as const;
        }),
      );
      last = Object.fromEntries(answers);
      return answers.every(([, answer]) => answer === status);
    };
    await waitFor(() => everyServiceAnswers(session.accessToken, 200), {
      timeoutMs: 10_000,
      what: 'every service to accept the new token',
    });
    const socketUrl = (token: string) =>
      `${suite.urls.notify.replace(/^http/, 'ws')}/ws?access_token=${token}`;
    assert.equal(await upgradeStatus(socketUrl(session.accessToken)), 101);

    const logout = await api.post(
      '/auth/logout',
      { refreshToken: session.refreshToken },
      session.accessToken,
    );
    assert.equal(logout.status, 204);
    const loggedOutAt = performance.now();
    await waitFor(() => everyServiceAnswers(session.accessToken, 401), {
      timeoutMs: 1_000,
      intervalMs: 20,
      what: 'every service to refuse the logged-out token',
    }).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}: ${JSON.stringify(last)}`);
    });
    const refusedAfter = performance.now() - loggedOutAt;
    assert.ok(refusedAfter < 1_000, `refused after ${refusedAfter.toFixed(0)} ms`);

    for (const [name, path] of Object.entries(routes)) {
      const res = await direct[name as keyof typeof direct].get(path, session.accessToken);
      assertProblem(res, 401, 'UNAUTHENTICATED');
      assert.match(String(res.body.detail), /revoked/, name);
    }
    assert.equal(
      await upgradeStatus(socketUrl(session.accessToken)),
      401,
      'notify refuses the WebSocket too',
    );

    // Only that token: the same user's other session is untouched everywhere.
    assert.ok(await everyServiceAnswers(other.accessToken, 200), JSON.stringify(last));
    assert.equal(await upgradeStatus(socketUrl(other.accessToken)), 101);
  });
});
