// infra/observability/: the alert rules pass `promtool check rules` (promtool built with `go` into the
// cache, here if `npm run stack:provision` has not yet), and the rules and the dashboard query only
// metrics that the services register (the same registries their processes build; the e2e test
// checks them again against the six running services' /metrics).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  createLogger,
  createMetrics,
  createServiceApp,
  EventBus,
  observeEventBus,
  observeOutbox,
} from '@trellis/shared';
import {
  DASHBOARD_FILE,
  exposedMetricNames,
  lintDashboard,
  lintRules,
  ruleFiles,
} from '../observability/lint.ts';
import { ensurePromtool } from '../observability/promtool.ts';
import { run } from '../local/proc.ts';
import { UpstreamBreakers } from '../../services/gateway/src/routing/breakers.ts';
import { mailMetrics } from '../../services/notify/src/mail/mail.metrics.ts';
import { realtimeMetrics } from '../../services/notify/src/realtime/realtime.metrics.ts';
import { webhookMetrics } from '../../services/notify/src/webhooks/webhook.metrics.ts';

/** Every metric a service registers: the shared frame, the bus, the outbox, the gateway's and notify's own. */
async function registeredNames(): Promise<Set<string>> {
  const logger = createLogger('lint', 'silent');
  const metrics = createMetrics('all');
  createServiceApp({ service: 'all', logger, readiness: [], metrics });
  // Never connected: its lag is left out of the scrape after the timeout, its metrics still listed.
  const bus = new EventBus({ brokers: ['127.0.0.1:1'], clientId: 'lint', logger });
  observeEventBus(metrics.registry, bus, { lagTimeoutMs: 10 });
  observeOutbox(metrics.registry, async () => ({ unsent: 0, oldestAgeSeconds: 0 }));
  const breakers = new UpstreamBreakers(
    { errorPercent: 50, volume: 10, resetMs: 5_000, failuresPerCaller: 5 },
    logger,
    metrics.registry,
  );
  breakers.shutdown();
  mailMetrics({ send: async () => ({ messageId: '' }), close: () => {} }, metrics.registry);
  realtimeMetrics(metrics.registry).countSockets(() => 0);
  webhookMetrics(metrics.registry);
  const text = await metrics.registry.metrics();
  await bus.close();
  return exposedMetricNames(text);
}

test('promtool check rules passes on every rule file', async () => {
  const promtool = await ensurePromtool();
  const files = ruleFiles();
  assert.ok(files.length > 0, 'infra/observability holds *.rules.yml');
  const output: string[] = [];
  const code = await run(promtool, ['check', 'rules', ...files], { onLine: (line) => output.push(line) });
  assert.equal(code, 0, output.join('\n'));
  assert.match(output.join('\n'), /SUCCESS: \d+ rules found/);
});

test('the alert rules and the dashboard query only metrics the services register', async () => {
  const exposed = await registeredNames();
  for (const name of [
    'http_request_duration_seconds_bucket',
    'outbox_unsent_events',
    'kafka_consumer_lag_messages',
  ])
    assert.ok(exposed.has(name), `the registries list ${name}`);
  for (const file of ruleFiles()) assert.deepEqual(lintRules(readFileSync(file, 'utf8'), exposed), [], file);
  assert.deepEqual(lintDashboard(readFileSync(DASHBOARD_FILE, 'utf8'), exposed), []);
});

test('the lint finds a query of a metric nobody exposes', () => {
  const exposed = new Set(['http_request_duration_seconds_count']);
  const dashboard = JSON.stringify({
    uid: 'x',
    title: 'x',
    panels: [
      {
        id: 1,
        type: 'timeseries',
        title: 'p',
        gridPos: {},
        targets: [{ refId: 'A', expr: 'sum by (service) (rate(http_requests_total{status=~"5.."}[5m]))' }],
      },
    ],
  });
  assert.deepEqual(lintDashboard(dashboard, exposed), [
    'panel 1 "p": no service exposes http_requests_total',
  ]);
});
