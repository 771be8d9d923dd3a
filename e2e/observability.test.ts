// architecture.md §8 on the running suite: the gateway's public port does not serve /metrics, the six
// services serve what the dashboard and the alert rules query (routes as templates, never raw paths),
// and no secret of a small journey (passwords, access and refresh tokens, a reset code, an invitation
// token, webhook secrets) reaches any service's log, even at debug level.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { metricSamples, WebhookReceiver, waitFor } from '@trellis/shared/testing';
import {
  DASHBOARD_FILE,
  exposedMetricNames,
  lintDashboard,
  lintRules,
  ruleFiles,
} from '../infra/observability/lint.ts';
import { apiClient, type ApiClient } from './support/client.ts';
import { codeFromMail } from './support/maildev.ts';
import { invitationToken, person } from './support/people.ts';
import { Socket } from './support/socket.ts';
import { SERVICES, startSuite, type Suite } from './support/suite.ts';

interface Session {
  user: { id: string };
  accessToken: string;
  refreshToken: string;
}

describe('observability of the running suite', () => {
  let suite: Suite;
  let api: ApiClient;
  let receiver: WebhookReceiver;
  /** Every line every service wrote. */
  const lines: string[] = [];
  /** The secret values the journey handled: none may be logged. */
  const secrets = new Map<string, string>();

  before(async () => {
    suite = await startSuite({
      logLevel: 'debug',
      onOutput: (_name, chunk) => lines.push(...chunk.split('\n')),
      env: { notify: { WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' } },
    });
    api = apiClient(suite.gatewayUrl);
    receiver = new WebhookReceiver();
  });

  after(async () => {
    await suite?.close();
    await receiver?.close();
  });

  test('GET /metrics through the public port is a 404; the metrics port serves it', async () => {
    const open = await fetch(`${suite.gatewayUrl}/metrics`);
    assert.equal(open.status, 404);
    assert.ok(!(await open.text()).includes('# TYPE'), 'no metric text on the public port');
    const inside = await fetch(suite.metricsUrls.gateway);
    assert.equal(inside.status, 200);
    assert.match(await inside.text(), /gateway_breaker_state\{/);
  });

  test('a journey leaves no password, token, code or webhook secret in any log line', async () => {
    const email = `secrets-${randomUUID().slice(0, 8)}@example.test`;
    const password = `first ${randomUUID()}`;
    const registered = await api.post<Session>('/auth/register', { email, password, name: 'Sam Secret' });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    secrets.set('password', password);
    secrets.set('access token (register)', registered.body.accessToken);
    secrets.set('refresh token (register)', registered.body.refreshToken);

    const refreshed = await api.post<Session>('/auth/refresh', {
      refreshToken: registered.body.refreshToken,
    });
    assert.equal(refreshed.status, 200);
    secrets.set('access token (refresh)', refreshed.body.accessToken);
    secrets.set('refresh token (refresh)', refreshed.body.refreshToken);
    // A refresh token replayed: refused, and still not logged.
    assert.equal(
      (await api.post('/auth/refresh', { refreshToken: registered.body.refreshToken })).status,
      401,
    );

    assert.equal((await api.post('/auth/password/forgot', { email })).status, 202);
    const code = await codeFromMail(email);
    const newPassword = `second ${randomUUID()}`;
    secrets.set('reset code', code);
    secrets.set('new password', newPassword);
    assert.equal((await api.post('/auth/password/reset', { email, code, newPassword })).status, 204);
    assert.equal((await api.post('/auth/login', { email, password })).status, 401, 'the old password');
    const login = await api.post<Session>('/auth/login', { email, password: newPassword });
    assert.equal(login.status, 200);
    secrets.set('access token (login)', login.body.accessToken);
    secrets.set('refresh token (login)', login.body.refreshToken);
    const token = login.body.accessToken;

    const org = await api.post<{ id: string }>(
      '/orgs',
      { name: `Secrets ${randomUUID().slice(0, 6)}` },
      token,
    );
    assert.equal(org.status, 201);
    const invitee = await person(api, 'Ivy Invitee');
    secrets.set('access token (invitee)', invitee.token);
    const invited = await api.post(
      `/orgs/${org.body.id}/invitations`,
      { email: invitee.email, role: 'MEMBER' },
      token,
    );
    assert.equal(invited.status, 201, JSON.stringify(invited.body));
    const invitation = await invitationToken(invitee.email);
    secrets.set('invitation token', invitation);
    assert.equal((await api.post('/invitations/accept', { token: invitation }, invitee.token)).status, 200);

    const base = await receiver.start();
    const hook = await api.post<{ id: string; secret: string }>(
      `/orgs/${org.body.id}/webhooks`,
      { url: `${base}/hook`, events: ['project.*'] },
      token,
    );
    assert.equal(hook.status, 201, JSON.stringify(hook.body));
    secrets.set('webhook secret', hook.body.secret);
    secrets.set('webhook secret (key part)', hook.body.secret.slice('whsec_'.length));
    receiver.secrets.set('/hook', hook.body.secret);
    const rotated = await api.post<{ secret: string }>(`/webhooks/${hook.body.id}/rotate-secret`, {}, token);
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    secrets.set('rotated webhook secret', rotated.body.secret);
    receiver.secrets.set('/hook', rotated.body.secret);
    const project = await api.post('/projects', { orgId: org.body.id, name: 'Secrets', key: 'SEC' }, token);
    assert.equal(project.status, 201);
    await waitFor(() => receiver.at('/hook').length > 0, { what: 'a signed webhook delivery' });

    // The token in a WebSocket's query string (browsers cannot set headers on it).
    const socket = await Socket.open(suite.gatewayUrl, token);
    await socket.close();
    // An access token refused: its value is not logged either.
    assert.equal((await api.get('/users/me', `${token}x`)).status, 401);

    await new Promise((resolve) => setTimeout(resolve, 1_000)); // the last lines flushed
    assert.ok(lines.length > 100, `the services logged at debug level (${lines.length} lines)`);
    const found: string[] = [];
    for (const [what, value] of secrets) {
      // A 6-digit code could be part of a longer number or id: only a standalone one counts.
      const pattern = new RegExp(`(?<![\\w-])${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`);
      const hit = lines.find((line) => pattern.test(line));
      if (hit) found.push(`${what}: ${hit.slice(0, 300)}`);
    }
    assert.deepEqual(found, [], 'secrets in the logs');
  });

  test('the services serve every metric the dashboard and the rules query, with route templates', async () => {
    const exposed = new Set<string>();
    const texts = new Map<string, string>();
    for (const name of SERVICES) {
      const res = await fetch(suite.metricsUrls[name]);
      assert.equal(res.status, 200, name);
      const text = await res.text();
      texts.set(name, text);
      for (const metric of exposedMetricNames(text)) exposed.add(metric);
      assert.match(text, new RegExp(`http_request_duration_seconds_count\\{[^}]*service="${name}"`), name);
    }
    for (const name of ['identity', 'governance', 'work', 'collab', 'notify'])
      assert.match(texts.get(name) ?? '', /^outbox_unsent_events\{[^}]*\} \d+$/m, `${name}'s outbox backlog`);
    assert.match(texts.get('notify') ?? '', /^kafka_consumer_lag_messages\{[^}]*group="notify"/m);
    for (const file of ruleFiles())
      assert.deepEqual(lintRules(readFileSync(file, 'utf8'), exposed), [], file);
    assert.deepEqual(lintDashboard(readFileSync(DASHBOARD_FILE, 'utf8'), exposed), []);

    // Bounded cardinality: a route label is a template, never a path holding an id.
    const routes = [...texts.values()].flatMap((text) =>
      metricSamples(text, 'http_request_duration_seconds_count').map((sample) => sample.labels.route ?? ''),
    );
    assert.ok(routes.includes('/api/v1/webhooks/:id/rotate-secret'), routes.join(' '));
    const raw = routes.filter((route) => /[0-9a-f]{8}-[0-9a-f]{4}-|\/\d+(\/|$)/.test(route));
    assert.deepEqual(raw, [], 'routes with ids in them');
  });
});
