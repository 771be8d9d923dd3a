// npm run bench:work — the work service's task queries at scale, through the gateway. Seeds 100 000
// tasks in one project straight into work's database (one INSERT … SELECT over generate_series),
// then measures a filtered page, a full-text page, a lookup by key and a create with autocannon,
// every latency recorded per request so p50/p95/p99 are exact. Then (unless BENCH_LARGE=0) grows
// the table to 1 000 000 tasks across 100 orgs and measures again. Goal (the issue): p95 under
// 25 ms for a filtered page at 100 000 tasks. Not part of npm test: figures, not assertions —
// except that any non-2xx answer fails the run.
//
// Latencies on a shared 2-core machine move with whatever else runs, so each scenario also reports
// the CPU it cost per request in the gateway, in work and in work's PostgreSQL backends (read
// from /proc, Linux only): that figure barely moves with outside load. BENCH_CPU_PROF=<dir> writes
// V8 CPU profiles of the gateway and work there (open them in Chrome DevTools). BENCH_TRACING=1 runs
// a Jaeger of its own and has every service send it spans: run it both ways to see what tracing costs.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { downStarted, up } from '../infra/local/stack.ts';
import { stackEnv } from '../infra/local/services.ts';
import { percentile } from './load.ts';

const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const duration = Number(process.env.BENCH_SECONDS ?? 10);
const warmup = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const projectTasks = Number(process.env.BENCH_TASKS ?? 100_000);
const largeTotal = Number(process.env.BENCH_LARGE_TASKS ?? 1_000_000);
const largeOrgs = Number(process.env.BENCH_LARGE_ORGS ?? 100);
const large = process.env.BENCH_LARGE !== '0';
const cpuProfileDir = process.env.BENCH_CPU_PROF;
const tracing = process.env.BENCH_TRACING === '1';
const GOAL_P95_MS = 25;
const KEY = 'BENCH';

// Words for titles and descriptions: common ones show up everywhere, each RARE word in ~1% of tasks.
const VERBS = ['Fix', 'Add', 'Refactor', 'Document', 'Investigate', 'Migrate', 'Speed up', 'Remove', 'Test'];
const NOUNS = [
  'login form',
  'billing export',
  'search index',
  'invoice email',
  'dashboard chart',
  'rate limiter',
  'webhook retries',
  'audit log',
  'CSV import',
  'mobile layout',
  'password reset',
  'team settings',
  'notification digest',
  'project archive',
  'sprint board',
  'API pagination',
];
const COMMON = [
  'customer',
  'report',
  'error',
  'timeout',
  'permission',
  'cache',
  'release',
  'database',
  'payload',
  'latency',
  'regression',
  'upgrade',
  'feedback',
  'backlog',
  'deadline',
  'review',
  'metric',
  'session',
];
const RARE = [
  'zeppelin',
  'walrus',
  'origami',
  'quasar',
  'tundra',
  'marmalade',
  'saxophone',
  'glacier',
  'pelican',
  'volcano',
  'lantern',
  'harpoon',
  'meadow',
  'compass',
  'orchid',
  'falcon',
  'granite',
  'lagoon',
  'mosaic',
  'nebula',
  'obsidian',
  'parsnip',
  'quiver',
  'rhubarb',
  'sequoia',
  'trombone',
  'umbrella',
  'velvet',
  'whistle',
  'yodel',
  'zucchini',
  'anchovy',
  'bagpipe',
  'cactus',
  'dolphin',
  'emerald',
  'flamingo',
  'gazebo',
  'hammock',
  'iguana',
  'jasmine',
  'kayak',
  'lobster',
  'mango',
  'nutmeg',
  'octopus',
  'penguin',
  'quartz',
  'raccoon',
  'saffron',
  'tangerine',
  'unicorn',
  'vanilla',
  'waffle',
  'xylophone',
  'yogurt',
  'zebra',
  'avocado',
  'blizzard',
  'cathedral',
  'dandelion',
  'eclipse',
  'fjord',
  'gondola',
  'hazelnut',
  'igloo',
  'jellyfish',
  'kiwi',
  'labyrinth',
  'magnolia',
  'narwhal',
  'oasis',
  'paprika',
  'quokka',
  'riddle',
  'sapphire',
  'thimble',
  'ukulele',
  'vortex',
  'wombat',
  'yacht',
  'zenith',
  'acorn',
  'banjo',
  'canyon',
  'dragonfly',
  'elm',
  'fossil',
  'geyser',
  'hedgehog',
  'ivory',
  'jigsaw',
  'kettle',
  'lynx',
  'monsoon',
  'nougat',
  'oyster',
  'puffin',
  'quill',
  'reindeer',
];
const LABELS = ['backend', 'frontend', 'ux', 'infra', 'security', 'performance', 'docs', 'customer'];
const SEARCH_WORD = RARE[37] ?? 'flamingo';

/**
 * Inserts `count` tasks numbered from `first` into one project with one statement, and moves the
 * project's counter past them so API creates continue the sequence. Every random choice is made
 * once per row in the inner SELECT (volatile random() would otherwise differ per use).
 */
async function seedTasks(
  db: pg.Client,
  t: { orgId: string; projectId: string; key: string; first: number; count: number; reporterId: string },
  assignees: string[],
): Promise<void> {
  await db.query(
    `INSERT INTO tasks (id, org_id, project_id, number, key, title, description, status, priority, type,
                        assignee_id, reporter_id, estimate, labels, start_date, due_date, completed_at,
                        version, created_at, updated_at)
     SELECT gen_random_uuid(), $1::uuid, $2::uuid, n, $3::text || '-' || n,
            ($7::text[])[1 + (n * 7) % cardinality($7::text[])] || ' ' ||
              ($8::text[])[1 + (n * 13) % cardinality($8::text[])] || ' ' ||
              ($9::text[])[1 + (n * 5) % cardinality($9::text[])],
            CASE WHEN r_desc < 0.85 THEN
              'The ' || ($9::text[])[1 + (n * 11) % cardinality($9::text[])] || ' ' ||
              ($8::text[])[1 + (n * 3) % cardinality($8::text[])] || ' needs work: ' ||
              ($10::text[])[1 + n % cardinality($10::text[])] || ' seen by a ' ||
              ($9::text[])[1 + (n * 17) % cardinality($9::text[])] || ' after the last ' ||
              ($9::text[])[1 + (n * 19) % cardinality($9::text[])] || '.'
            END,
            CASE WHEN r_status < 0.30 THEN 'TODO' WHEN r_status < 0.50 THEN 'IN_PROGRESS'
                 WHEN r_status < 0.60 THEN 'IN_REVIEW' WHEN r_status < 0.65 THEN 'BLOCKED' ELSE 'DONE' END,
            CASE WHEN r_priority < 0.25 THEN 'LOW' WHEN r_priority < 0.70 THEN 'MEDIUM'
                 WHEN r_priority < 0.92 THEN 'HIGH' ELSE 'URGENT' END,
            CASE WHEN r_type < 0.45 THEN 'TASK' WHEN r_type < 0.65 THEN 'FEATURE' WHEN r_type < 0.85 THEN 'BUG'
                 WHEN r_type < 0.95 THEN 'IMPROVEMENT' ELSE 'DOCUMENTATION' END,
            CASE WHEN r_assignee < 0.15 THEN NULL
                 ELSE ($5::uuid[])[1 + floor(r_assignee * 1000)::int % cardinality($5::uuid[])] END,
            $4::uuid, CASE WHEN r_estimate < 0.6 THEN (ARRAY[1, 2, 3, 5, 8, 13])[1 + floor(r_estimate * 10)::int] END,
            CASE WHEN r_labels < 0.35 THEN '{}'::text[]
                 WHEN r_labels < 0.80 THEN ARRAY[($6::text[])[1 + n % cardinality($6::text[])]]
                 ELSE ARRAY[($6::text[])[1 + n % cardinality($6::text[])],
                            ($6::text[])[1 + (n + 3) % cardinality($6::text[])]] END,
            CASE WHEN r_due < 0.6 THEN created::date END,
            CASE WHEN r_due < 0.6 THEN created::date + (r_due * 100)::int END,
            CASE WHEN r_status >= 0.65 THEN updated END,
            1, created, updated
       FROM (SELECT n, random() AS r_desc, random() AS r_status, random() AS r_priority, random() AS r_type,
                    random() AS r_assignee, random() AS r_estimate, random() AS r_labels, random() AS r_due,
                    now() - random() * interval '365 days' AS created, random() * interval '30 days' AS bump
               FROM generate_series($11::int, $12::int) AS n) s,
            LATERAL (SELECT least(created + bump, now()) AS updated) u`,
    [
      t.orgId,
      t.projectId,
      t.key,
      t.reporterId,
      assignees,
      LABELS,
      VERBS,
      NOUNS,
      COMMON,
      RARE,
      t.first,
      t.first + t.count - 1,
    ],
  );
  await db.query(`UPDATE task_counters SET last_number = greatest(last_number, $2) WHERE project_id = $1`, [
    t.projectId,
    t.first + t.count - 1,
  ]);
}

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

/** The scans of a plan, e.g. "Index Scan Backward on tasks_project_updated". */
const scanOf = (node: PlanNode): string => {
  const inner = (node.Plans ?? []).map(scanOf).filter(Boolean).join(' + ');
  if (!/Scan/.test(node['Node Type'])) return inner;
  const self = `${node['Node Type']}${node['Index Name'] ? ` on ${node['Index Name']}` : ''}`;
  return inner ? `${self} < ${inner}` : self;
};

interface Scenario {
  name: string;
  method?: 'GET' | 'POST';
  /** A fixed path, or one per request. */
  path: string | (() => string);
  body?: string;
}

interface Figures {
  name: string;
  requests: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  errors: number;
  /** CPU milliseconds per request, by process group (see cpuTicks). */
  cpu?: Record<CpuGroup, number>;
}

const CPU_GROUPS = ['gateway', 'work', 'pg'] as const;
type CpuGroup = (typeof CPU_GROUPS)[number];

/**
 * CPU ticks (utime + stime, 10 ms each) per process of a group: the gateway and work processes
 * this bench started, and PostgreSQL backends connected to work's database. Undefined off Linux.
 */
function cpuTicks(workDatabase: string): Map<string, number> | undefined {
  if (!existsSync('/proc/self/stat')) return undefined;
  const ticks = new Map<string, number>();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(join('/proc', pid, 'stat'), 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmd = readFileSync(join('/proc', pid, 'cmdline'), 'utf8').replace(/\0/g, ' ');
      const ours = Number(fields[1]) === process.pid;
      const group: CpuGroup | undefined =
        ours && cmd.includes('services/gateway/')
          ? 'gateway'
          : ours && cmd.includes('services/work/')
            ? 'work'
            : cmd.startsWith('postgres: ') && cmd.includes(` ${workDatabase} `)
              ? 'pg'
              : undefined;
      if (group) ticks.set(`${group}:${pid}`, Number(fields[11]) + Number(fields[12]));
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return ticks;
}

function cpuPerRequest(
  before: Map<string, number> | undefined,
  after: Map<string, number> | undefined,
  requests: number,
): Record<CpuGroup, number> | undefined {
  if (!before || !after || requests === 0) return undefined;
  const ms = Object.fromEntries(CPU_GROUPS.map((g) => [g, 0])) as Record<CpuGroup, number>;
  for (const [key, ticks] of after) {
    const group = key.slice(0, key.indexOf(':')) as CpuGroup;
    ms[group] += (ticks - (before.get(key) ?? 0)) * 10;
  }
  return Object.fromEntries(CPU_GROUPS.map((g) => [g, ms[g] / requests])) as Record<CpuGroup, number>;
}

/** One autocannon run; every response's latency is kept, and any non-2xx answer throws with its body. */
async function cannon(base: string, headers: Record<string, string>, s: Scenario, seconds: number) {
  const latencies: number[] = [];
  let firstBad: { status: number; body: string } | undefined;
  const { path } = s;
  const request: autocannon.Request = {
    method: s.method ?? 'GET',
    path: typeof path === 'string' ? path : path(),
    ...(s.body === undefined ? {} : { body: s.body }),
    onResponse: (status: number, body: string) => {
      if ((status < 200 || status > 299) && !firstBad) firstBad = { status, body };
    },
    ...(typeof path === 'string'
      ? {}
      : { setupRequest: (req: autocannon.Request) => ({ ...req, path: path() }) }),
  };
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: base,
        connections,
        duration: seconds,
        headers: { ...headers, ...(s.body === undefined ? {} : { 'content-type': 'application/json' }) },
        requests: [request],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
  });
  const errors = result.errors + result.timeouts + result.non2xx;
  if (errors > 0)
    throw new Error(
      `${s.name}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts` +
        (firstBad ? `; first answer ${firstBad.status}: ${firstBad.body.slice(0, 500)}` : ''),
    );
  latencies.sort((a, b) => a - b);
  return {
    name: s.name,
    requests: latencies.length,
    rps: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    errors,
  } satisfies Figures;
}

function table(title: string, rows: Figures[]) {
  console.log(`\n${title}`);
  console.log(
    `${connections} connections, ${duration} s each after a ${warmup} s warm-up (autocannon, exact per-request percentiles)\n`,
  );
  const cpuHeader = rows.some((r) => r.cpu)
    ? `   CPU ms/request: ${CPU_GROUPS.map((g) => g.padStart(7)).join('')}`
    : '';
  console.log(
    `${'scenario'.padEnd(42)} ${'req/s'.padStart(7)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'errors'.padStart(7)}${cpuHeader}`,
  );
  for (const r of rows) {
    const { cpu } = r;
    const cpuColumns = cpu
      ? `${' '.repeat(19)}${CPU_GROUPS.map((g) => cpu[g].toFixed(2).padStart(7)).join('')}`
      : '';
    console.log(
      `${r.name.padEnd(42)} ${r.rps.toFixed(0).padStart(7)} ${r.p50.toFixed(1).padStart(8)} ${r.p95.toFixed(1).padStart(8)} ${r.p99.toFixed(1).padStart(8)} ${String(r.errors).padStart(7)}${cpuColumns}`,
    );
  }
}

const started = new Set<string>();
await up(started);
Object.assign(process.env, stackEnv());
// Imported after the stack env is set: the harness reads it at load time.
const { startSuite } = await import('../e2e/support/suite.ts');
const { apiClient } = await import('../e2e/support/client.ts');
const { person } = await import('../e2e/support/people.ts');
const jaeger = tracing
  ? await (await import('../e2e/support/private-jaeger.ts')).startPrivateJaeger()
  : undefined;
// A sampler of the caller's (OTEL_TRACES_SAMPLER=parentbased_traceidratio, …_ARG=0.1) goes to every service.
const sampling = Object.fromEntries(
  ['OTEL_TRACES_SAMPLER', 'OTEL_TRACES_SAMPLER_ARG'].flatMap((name) => {
    const value = process.env[name];
    return value ? [[name, value]] : [];
  }),
);
const traces: Record<string, string> = jaeger
  ? { OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpUrl, ...sampling }
  : {};
const profile = (name: string): Record<string, string> => ({
  ...traces,
  ...(cpuProfileDir ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${join(cpuProfileDir, name)}` } : {}),
});
console.log(
  `tracing: ${jaeger ? `on, to a Jaeger of the benchmark's own (${jaeger.url}), sampler ${sampling.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on'} ${sampling.OTEL_TRACES_SAMPLER_ARG ?? ''}` : 'off'}`,
);
const suite = await startSuite({
  logLevel: 'error',
  env: {
    gateway: { RATE_LIMIT_PER_USER: '100000000', RATE_LIMIT_PER_IP: '100000000', ...profile('gateway') },
    identity: traces,
    governance: traces,
    work: profile('work'),
    collab: traces,
    notify: traces,
  },
});
const workDatabase = new URL(suite.databaseUrl('work')).pathname.slice(1);
const db = new pg.Client({ connectionString: suite.databaseUrl('work') });

try {
  await db.connect();
  const api = apiClient(suite.gatewayUrl);
  const owner = await person(api, 'Bench Owner');
  const headers = { authorization: `Bearer ${owner.token}` };
  // Assignees: the owner and a few colleagues (only ids matter to the queries).
  const colleagues = await Promise.all(['Ann', 'Bob', 'Cid', 'Dee'].map((n) => person(api, `Bench ${n}`)));
  const assignees = [owner.id, ...colleagues.map((c) => c.id)];

  const createOrgAndProject = async (orgName: string, key: string) => {
    const org = await api.post<{ id: string }>('/orgs', { name: orgName }, owner.token);
    if (org.status !== 201) throw new Error(`POST /orgs answered ${org.status}: ${JSON.stringify(org.body)}`);
    const project = await api.post<{ id: string }>(
      '/projects',
      { orgId: org.body.id, name: `${orgName} tasks`, key },
      owner.token,
    );
    if (project.status !== 201)
      throw new Error(`POST /projects answered ${project.status}: ${JSON.stringify(project.body)}`);
    return { orgId: org.body.id, projectId: project.body.id };
  };
  const { orgId, projectId } = await createOrgAndProject(`Bench ${Date.now()}`, KEY);

  let t0 = performance.now();
  await seedTasks(
    db,
    { orgId, projectId, key: KEY, first: 1, count: projectTasks, reporterId: owner.id },
    assignees,
  );
  const seedMs = performance.now() - t0;
  t0 = performance.now();
  await db.query('ANALYZE tasks');
  const analyzeMs = performance.now() - t0;
  const { rows: shares } = await db.query<{ filtered: number; searched: number }>(
    `SELECT count(*) FILTER (WHERE status IN ('IN_PROGRESS', 'IN_REVIEW') AND priority = 'HIGH')::int AS filtered,
            count(*) FILTER (WHERE search @@ websearch_to_tsquery('english', $2))::int AS searched
       FROM tasks WHERE project_id = $1`,
    [projectId, SEARCH_WORD],
  );
  console.log(
    `\nseeded ${projectTasks.toLocaleString('en')} tasks in ${KEY} in ${(seedMs / 1000).toFixed(1)} s ` +
      `(ANALYZE ${(analyzeMs / 1000).toFixed(1)} s); filter matches ${shares[0]?.filtered}, ` +
      `"${SEARCH_WORD}" matches ${shares[0]?.searched}`,
  );

  const scenarios = (pid: string, oid: string, key: string, max: number): Scenario[] => [
    {
      name: 'filtered list (status,priority)',
      path: `/api/v1/projects/${pid}/tasks?status=IN_PROGRESS,IN_REVIEW&priority=HIGH&limit=50`,
    },
    { name: `full-text q=${SEARCH_WORD}`, path: `/api/v1/projects/${pid}/tasks?q=${SEARCH_WORD}&limit=50` },
    {
      name: 'lookup by key (random)',
      path: () => `/api/v1/tasks/lookup?orgId=${oid}&key=${key}-${1 + Math.floor(Math.random() * max)}`,
    },
    {
      name: 'create',
      method: 'POST',
      path: `/api/v1/projects/${pid}/tasks`,
      body: JSON.stringify({
        title: 'Benchmark task from the API',
        description: 'Created by npm run bench:work',
        priority: 'HIGH',
        labels: ['backend'],
      }),
    },
  ];
  const measure = async (list: Scenario[]) => {
    const rows: Figures[] = [];
    for (const s of list) {
      await cannon(suite.gatewayUrl, headers, s, warmup);
      const before = cpuTicks(workDatabase);
      const figures: Figures = await cannon(suite.gatewayUrl, headers, s, duration);
      const cpu = cpuPerRequest(before, cpuTicks(workDatabase), figures.requests);
      rows.push(cpu ? { ...figures, cpu } : figures);
    }
    return rows;
  };

  // The SQL alone (the shape of the service's list query, no auth/projection reads), for reference.
  const sqlAlone = async (pid: string) => {
    const shape = (where: string) =>
      `SELECT t.*, t.updated_at::text AS "sortValue" FROM tasks t
        WHERE t.project_id = $1 AND t.deleted_at IS NULL AND ${where}
        ORDER BY t.updated_at DESC, t.id DESC LIMIT 51`;
    const queries = [
      ['filtered', shape(`t.status IN ('IN_PROGRESS', 'IN_REVIEW') AND t.priority = 'HIGH'`), [pid]],
      ['full-text', shape(`t.search @@ websearch_to_tsquery('english', $2)`), [pid, SEARCH_WORD]],
    ] as const;
    const parts: string[] = [];
    for (const [name, sql, params] of queries) {
      const times: number[] = [];
      let node = '';
      for (let i = 0; i < 7; i++) {
        const { rows } = await db.query<{ 'QUERY PLAN': [{ 'Execution Time': number; Plan: PlanNode }] }>(
          `EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`,
          [...params],
        );
        const plan = rows[0]?.['QUERY PLAN'][0];
        times.push(plan?.['Execution Time'] ?? NaN);
        node = plan ? scanOf(plan.Plan) : '?';
      }
      times.sort((a, b) => a - b);
      parts.push(`${name} ${percentile(times, 50).toFixed(2)} ms (${node})`);
    }
    return parts.join(', ');
  };
  const cpus = availableParallelism();
  const load = loadavg()[0]?.toFixed(1);
  console.log(`database alone, median of 7 EXPLAIN ANALYZE: ${await sqlAlone(projectId)}`);
  console.log(
    `machine: ${cpus} CPUs, 1-min load average ${load} before measuring (gateway, services, PostgreSQL and autocannon share them)`,
  );

  const small = await measure(scenarios(projectId, orgId, KEY, projectTasks));
  table(`${projectTasks.toLocaleString('en')} tasks in one project, through the gateway`, small);
  const filtered = small[0];
  if (filtered)
    console.log(
      `\ngoal: filtered page p95 < ${GOAL_P95_MS} ms at ${projectTasks.toLocaleString('en')} tasks — ` +
        `${filtered.p95 < GOAL_P95_MS ? 'MET' : 'NOT MET'} (p95 ${filtered.p95.toFixed(1)} ms)`,
    );

  if (!large) {
    console.log(
      `\n${largeTotal.toLocaleString('en')} tasks across ${largeOrgs} orgs: skipped (BENCH_LARGE=0)`,
    );
  } else {
    // The rest of the million spread over more orgs, one project each, same owner.
    t0 = performance.now();
    const others: { orgId: string; projectId: string; key: string }[] = [];
    for (let i = 1; i < largeOrgs; i++) {
      const key = `LOAD${i}`;
      others.push({ ...(await createOrgAndProject(`Bench load ${i} ${Date.now()}`, key)), key });
    }
    const createMs = performance.now() - t0;
    const { rows: counted } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM tasks');
    const remaining = largeTotal - (counted[0]?.n ?? 0);
    const each = Math.floor(remaining / others.length);
    t0 = performance.now();
    for (const [i, o] of others.entries()) {
      const count = i === others.length - 1 ? remaining - each * (others.length - 1) : each;
      await seedTasks(db, { ...o, first: 1, count, reporterId: owner.id }, assignees);
    }
    const seedLargeMs = performance.now() - t0;
    t0 = performance.now();
    await db.query('ANALYZE tasks');
    const analyzeLargeMs = performance.now() - t0;
    const { rows: total } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM tasks');
    console.log(
      `\ngrew to ${total[0]?.n.toLocaleString('en')} tasks across ${largeOrgs} orgs: ${others.length} orgs+projects ` +
        `via the gateway in ${(createMs / 1000).toFixed(1)} s, seeded ${remaining.toLocaleString('en')} more tasks in ` +
        `${(seedLargeMs / 1000).toFixed(1)} s (ANALYZE ${(analyzeLargeMs / 1000).toFixed(1)} s)`,
    );
    console.log(`database alone, median of 7 EXPLAIN ANALYZE (${KEY}): ${await sqlAlone(projectId)}`);
    const other = others[0];
    const bigRows = await measure(scenarios(projectId, orgId, KEY, projectTasks));
    const otherRows = other
      ? await measure(scenarios(other.projectId, other.orgId, other.key, each).slice(0, 3))
      : [];
    table(
      `${total[0]?.n.toLocaleString('en')} tasks across ${largeOrgs} orgs: the ${KEY} project (${projectTasks.toLocaleString('en')}) ` +
        `and one ${each.toLocaleString('en')}-task project, through the gateway`,
      [
        ...bigRows.map((r) => ({ ...r, name: `${KEY}: ${r.name}` })),
        ...otherRows.map((r) => ({ ...r, name: `${other?.key}: ${r.name}` })),
      ],
    );
  }
} finally {
  await db.end().catch(() => undefined);
  await suite.close();
  await jaeger?.close();
  await downStarted(started);
}
