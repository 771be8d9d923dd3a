// Checks of the dashboard and the alert rules that promtool does not make: every query names
// metrics a service exposes, every alert has a duration, a severity and runbook annotations.
// Used by infra/test/observability.test.ts (metrics of the registries the services build) and by
// e2e/observability.test.ts (metrics scraped from the six running services).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

export const OBSERVABILITY_DIR = import.meta.dirname;
export const DASHBOARD_FILE = join(OBSERVABILITY_DIR, 'trellis-dashboard.json');

export const ruleFiles = (): string[] =>
  readdirSync(OBSERVABILITY_DIR)
    .filter((name) => name.endsWith('.rules.yml'))
    .map((name) => join(OBSERVABILITY_DIR, name));

/** PromQL words that are not metric names: aggregations, functions, keywords. */
const PROMQL_WORDS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'count',
  'stddev',
  'stdvar',
  'topk',
  'bottomk',
  'quantile',
  'group',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'inf',
  'nan',
  'le',
]);

/**
 * The metric names a PromQL expression reads: what remains once strings, label matchers, ranges,
 * grouping clauses, function calls and Grafana's `$variables` are taken out.
 */
export function metricNamesInExpr(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\w+/g, ' ');
  const names = new Set<string>();
  for (const match of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = match[0];
    const after = bare.slice((match.index ?? 0) + word.length).trimStart();
    if (after.startsWith('(') || PROMQL_WORDS.has(word.toLowerCase())) continue;
    names.add(word);
  }
  return [...names];
}

/** The sample names a `/metrics` text can hold: each `# TYPE` line's name, a histogram's series too. */
export function exposedMetricNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const [, name = '', type = ''] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(name + suffix);
  }
  return names;
}

interface Panel {
  id?: number;
  type?: string;
  title?: string;
  gridPos?: unknown;
  targets?: Array<{ expr?: string; refId?: string }>;
  panels?: Panel[];
}

/** Problems of the dashboard: structure, and queries of metrics not in `exposed`. */
export function lintDashboard(text: string, exposed: Set<string>): string[] {
  const problems: string[] = [];
  const dashboard = JSON.parse(text) as { uid?: string; title?: string; panels?: Panel[] };
  if (!dashboard.uid || !dashboard.title) problems.push('the dashboard needs a uid and a title');
  const panels = (dashboard.panels ?? []).flatMap((panel) => [panel, ...(panel.panels ?? [])]);
  const ids = new Set<number>();
  let queries = 0;
  for (const panel of panels) {
    const name = `panel ${panel.id ?? '?'} "${panel.title ?? ''}"`;
    if (panel.id === undefined || ids.has(panel.id)) problems.push(`${name}: missing or repeated id`);
    else ids.add(panel.id);
    if (!panel.gridPos) problems.push(`${name}: no gridPos`);
    if (panel.type === 'row') continue;
    const targets = panel.targets ?? [];
    if (targets.length === 0) problems.push(`${name}: no query`);
    for (const target of targets) {
      if (!target.expr) {
        problems.push(`${name} ${target.refId ?? ''}: no expr`);
        continue;
      }
      queries += 1;
      const names = metricNamesInExpr(target.expr);
      if (names.length === 0) problems.push(`${name}: reads no metric: ${target.expr}`);
      for (const metric of names)
        if (!exposed.has(metric)) problems.push(`${name}: no service exposes ${metric}`);
    }
  }
  if (queries === 0) problems.push('the dashboard has no query');
  return problems;
}

interface Rule {
  alert?: string;
  record?: string;
  expr?: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** Problems of a rule file beyond promtool's syntax check: conventions, and metrics not in `exposed`. */
export function lintRules(text: string, exposed: Set<string>): string[] {
  const problems: string[] = [];
  const file = parse(text) as { groups?: Array<{ name: string; rules?: Rule[] }> };
  for (const group of file.groups ?? []) {
    for (const rule of group.rules ?? []) {
      const name = rule.alert ?? rule.record ?? '(unnamed)';
      if (rule.alert) {
        if (!rule.for) problems.push(`${name}: no \`for:\` duration`);
        if (!['critical', 'warning', 'info'].includes(rule.labels?.severity ?? ''))
          problems.push(`${name}: severity must be critical, warning or info`);
        for (const key of ['summary', 'description', 'runbook', 'runbook_url'])
          if (!rule.annotations?.[key]) problems.push(`${name}: no ${key} annotation`);
        const anchor = /README\.md#([\w-]+)$/.exec(rule.annotations?.runbook_url ?? '')?.[1];
        if (!anchor || !readmeAnchors().has(anchor))
          problems.push(`${name}: runbook_url names no section of infra/observability/README.md`);
      }
      for (const metric of metricNamesInExpr(rule.expr ?? ''))
        if (!exposed.has(metric)) problems.push(`${name}: no service exposes ${metric}`);
    }
  }
  return problems;
}

/** GitHub's anchors of the README's headings. */
function readmeAnchors(): Set<string> {
  const readme = readFileSync(join(OBSERVABILITY_DIR, 'README.md'), 'utf8');
  return new Set(
    [...readme.matchAll(/^#+ (.+)$/gm)].map(([, heading = '']) =>
      heading
        .toLowerCase()
        .replace(/[^\w\s-]/g, '')
        .trim()
        .replace(/\s+/g, '-'),
    ),
  );
}
