// npm run test:fuzz — hostile input against every API document (issue 18): schemathesis, all its
// checks, NUL bytes and lone surrogates on, against the gateway's merged document and each service's
// own, with the suite running on free ports and real objects behind the path parameters. Fails on
// any 5xx (and on a service that dies); the other checks' failures are printed as findings.
// npm run test:contract (`--contract`) — the same run as the contract clients rely on: the gateway's
// document, text as clients send it (no NUL, no lone surrogates), and any failure of any check fails.
// See infra/fuzz/README.md.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

import { apiClient } from '../../e2e/support/client.ts';
import { env, paths } from '../local/config.ts';
import { say, seconds, step, warn } from '../local/log.ts';
import { pidRunning } from '../local/proc.ts';
import { stackEnv } from '../local/services.ts';
import { downStarted, up } from '../local/stack.ts';
import { targetConfig, type OpenApiDocument } from './config.ts';
import type { Fixtures } from './fixtures.ts';
import { readReport, type Example, type Finding } from './report.ts';
import { provisionSchemathesis } from './schemathesis.ts';
import { normalize, ServiceLogs, type LoggedError } from './service-logs.ts';

const contract = process.argv.includes('--contract');
const mode = contract ? 'contract' : 'fuzz';
/** Per operation and phase; 10 makes ≈14 500 cases over the six documents (≈3 min on 2 cores). */
const maxExamples = Number(env('FUZZ_MAX_EXAMPLES') ?? (contract ? 3 : 10));
/** The contract run's floor: fewer cases means operations went untested. */
const MIN_CONTRACT_CASES = 3_000;
const workers = env('FUZZ_WORKERS') ?? '1';
const seed = env('FUZZ_SEED');
const TARGETS = ['gateway', 'identity', 'governance', 'work', 'collab', 'notify'] as const;
type Target = (typeof TARGETS)[number];
const targets = (env('FUZZ_TARGETS')?.split(',') ?? (contract ? ['gateway'] : TARGETS)).map((name) => {
  if (!(TARGETS as readonly string[]).includes(name)) throw new Error(`FUZZ_TARGETS: no target ${name}`);
  return name as Target;
});
if (!Number.isInteger(maxExamples) || maxExamples < 1)
  throw new Error('FUZZ_MAX_EXAMPLES must be a positive integer');

const workDir = join(paths.home, mode);
const hooksFile = join(import.meta.dirname, 'hooks.py');

interface TargetResult {
  target: Target;
  cases: number;
  seconds: number;
  serverErrors: Example[];
  findings: Finding[];
  toolErrors: Map<string, number>;
}

const schemathesis = await provisionSchemathesis();
const started = new Set<string>();
await up(started);
Object.assign(process.env, stackEnv());
// Imported once the stack's env is set: the test helpers read it when loaded.
const { startSuite } = await import('../../e2e/support/suite.ts');
const { createFixtures } = await import('./fixtures.ts');

rmSync(workDir, { recursive: true, force: true });
const logs = new ServiceLogs(join(workDir, 'services'));
const suite = await step('start the six services on free ports', () =>
  startSuite({
    logLevel: 'warn',
    // The fuzzer sends thousands of requests a minute from one user and one address.
    env: { gateway: { RATE_LIMIT_PER_USER: '100000000', RATE_LIMIT_PER_IP: '100000000' } },
    onOutput: logs.append,
  }),
);
const api = apiClient(suite.gatewayUrl);

let current: ChildProcess | undefined;
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    interrupted = true;
    current?.kill('SIGTERM');
  });
}

function documentUrl(target: Target): string {
  return target === 'gateway' ? `${suite.gatewayUrl}/api/openapi.json` : `${suite.urls[target]}/openapi.json`;
}

/** Services that stopped answering during a target, with the last lines they wrote. */
const casualties: string[] = [];

async function checkServices(after: Target): Promise<void> {
  for (const name of TARGETS) {
    const ready = await fetch(`${suite.urls[name]}/health/ready`, { signal: AbortSignal.timeout(5_000) })
      .then((res) => res.ok)
      .catch(() => false);
    if (ready) continue;
    const pid = suite.pid(name);
    const alive = pid !== undefined && pidRunning(pid);
    casualties.push(
      `${name} ${alive ? 'stopped answering' : 'died'} while fuzzing ${after}; last lines of ${relative(paths.repo, logs.file(name))}:\n` +
        suite.logs(name).trimEnd().split('\n').slice(-15).join('\n'),
    );
    if (!alive) await suite.start(name);
  }
}

function runSchemathesis(
  target: Target,
  dir: string,
  configFile: string,
  identitiesFile: string,
): Promise<void> {
  const baseUrl = target === 'gateway' ? suite.gatewayUrl : suite.urls[target];
  const args = [
    ...schemathesis.slice(1),
    '--config-file',
    configFile,
    'run',
    documentUrl(target),
    `--url=${baseUrl}`,
    '--checks=all',
    `--max-examples=${maxExamples}`,
    '--continue-on-failure',
    ...(contract
      ? ['--generation-allow-x00=false']
      : [
          '--generation-allow-x00=true',
          // A codec that can encode lone surrogates, so Hypothesis draws them (hooks.py adds more).
          '--generation-codec=unicode_escape',
        ]),
    '--generation-database=none',
    '--request-timeout=10',
    `--workers=${workers}`,
    ...(seed ? [`--seed=${seed}`] : []),
    // Our findings are about hostile inputs: a password field's value must be shown, not "[Filtered]".
    '--output-sanitize=false',
    '--report=ndjson,json',
    `--report-ndjson-path=${join(dir, 'report.ndjson')}`,
    `--report-json-path=${join(dir, 'report.json')}`,
    '--no-color',
  ];
  const log = join(dir, 'schemathesis.log');
  say(`  $ schemathesis ${args.slice(2).join(' ').replaceAll(`${workDir}/`, '')}`);
  return step(`${mode} ${target}`, (progress) => {
    writeFileSync(log, '');
    return new Promise<void>((resolve, reject) => {
      const child = spawn(schemathesis[0] ?? 'python', args, {
        cwd: dir, // Hypothesis keeps a cache in its working directory
        env: { ...process.env, FUZZ_IDENTITIES: identitiesFile, FUZZ_HOSTILE: contract ? '0' : '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      current = child;
      const onData = (chunk: Buffer) => {
        const text = chunk.toString();
        writeFileSync(log, text, { flag: 'a' });
        const phase = /(Examples|Coverage|Fuzzing|Stateful) \(in [\d.]+s\)/.exec(text)?.[1];
        if (phase) progress(`${phase} phase done`);
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('error', reject);
      // Exit code 1 means "failures found": the report says which.
      child.on('exit', (code) => {
        current = undefined;
        if (code === 0 || code === 1) resolve();
        else reject(new Error(`schemathesis exited with ${code}; see ${relative(paths.repo, log)}`));
      });
    });
  });
}

async function fuzz(target: Target): Promise<TargetResult> {
  const dir = join(workDir, target);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const fixtures: Fixtures = await step(`objects for ${target}'s path parameters`, () => createFixtures(api));
  const document = (await (await fetch(documentUrl(target))).json()) as OpenApiDocument;
  const config = targetConfig({ document, fixtures, gatewayUrl: suite.gatewayUrl, hooksFile, contract });
  const configFile = join(dir, 'schemathesis.toml');
  const identitiesFile = join(dir, 'identities.json');
  writeFileSync(configFile, config.toml);
  writeFileSync(identitiesFile, JSON.stringify(config.identities));
  const began = performance.now();
  await runSchemathesis(target, dir, configFile, identitiesFile);
  const elapsed = (performance.now() - began) / 1000;
  const summary = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as {
    test_cases: { generated: number };
  };
  const tokens = new Map([
    [fixtures.user.token, 'TOKEN'],
    [fixtures.victim.token, 'VICTIM_TOKEN'],
  ]);
  const report = await readReport(join(dir, 'report.ndjson'), tokens);
  return { target, cases: summary.test_cases.generated, seconds: elapsed, ...report };
}

/** The line naming a 5xx's cause: what the service logged for that request. */
function causeOf(logged: LoggedError[], status: number | undefined): { key: string; text: string } {
  const top = logged[0];
  if (!top) return { key: `status ${status}`, text: `${status}, nothing logged for the request` };
  const at = top.frame ? ` (at ${top.frame})` : '';
  return {
    key: `${top.service} ${top.msg} ${normalize(top.error)} ${top.frame ?? ''}`,
    text: `${top.service}: ${top.msg}${top.error ? ` — ${top.error}` : ''}${at}`,
  };
}

interface Cause {
  text: string;
  requests: number;
  operations: Map<string, number>;
  example: Example & { target: Target };
}

function groupServerErrors(results: TargetResult[]): Cause[] {
  const causes = new Map<string, Cause>();
  for (const result of results) {
    for (const example of result.serverErrors) {
      const { key, text } = causeOf(logs.forRequest(example.requestId), example.status);
      const cause = causes.get(key) ?? {
        text,
        requests: 0,
        operations: new Map(),
        example: { ...example, target: result.target },
      };
      cause.requests += 1;
      const where = `${result.target}: ${example.operation} → ${example.status}`;
      cause.operations.set(where, (cause.operations.get(where) ?? 0) + 1);
      causes.set(key, cause);
    }
  }
  return [...causes.values()].sort((a, b) => b.requests - a.requests);
}

function printFindings(result: TargetResult): void {
  const byCode = new Map<string, Finding[]>();
  for (const finding of result.findings)
    byCode.set(finding.code, [...(byCode.get(finding.code) ?? []), finding]);
  for (const [code, findings] of [...byCode].sort(([a], [b]) => a.localeCompare(b))) {
    const operations = new Set(findings.map((finding) => finding.operation)).size;
    say(`    ${code} ${findings[0]?.title} — ${operations} operation${operations === 1 ? '' : 's'}:`);
    const list = findings
      .sort((a, b) => a.operation.localeCompare(b.operation) || (a.status ?? 0) - (b.status ?? 0))
      .map((finding) => `${finding.operation} → ${finding.status ?? 'no answer'} (${finding.count}×)`);
    say(`      ${list.join(' · ')}`);
  }
}

function markdown(results: TargetResult[], causes: Cause[]): string {
  const out = [
    `# ${contract ? 'Contract' : 'Fuzz'} findings (schemathesis, FUZZ_MAX_EXAMPLES=${maxExamples})`,
    '',
  ];
  out.push('`$TOKEN` is the fuzzing user (owner of the objects), `$VICTIM_TOKEN` the second owner.', '');
  out.push(`## 5xx: ${causes.length} distinct cause${causes.length === 1 ? '' : 's'}`, '');
  for (const cause of causes) {
    out.push(
      `### ${cause.text}`,
      '',
      `${cause.requests} requests: ${[...cause.operations].map(([where, n]) => `${where} (${n}×)`).join(', ')}`,
      '',
    );
    out.push('```sh', cause.example.curl, '```', '', `Answer: \`${cause.example.response}\``, '');
  }
  for (const result of results) {
    out.push(`## ${result.target}: ${result.findings.length} other distinct failures`, '');
    for (const finding of result.findings) {
      out.push(
        `### ${finding.code} ${finding.title}: ${finding.operation} → ${finding.status} (${finding.count}×)`,
        '',
      );
      out.push(
        finding.message.trim(),
        '',
        '```sh',
        finding.example.curl,
        '```',
        '',
        `Answer: \`${finding.example.response}\``,
        '',
      );
    }
  }
  return `${out.join('\n')}\n`;
}

const results: TargetResult[] = [];
const failedTargets: string[] = [];
const began = performance.now();
try {
  say(
    `Fuzzing ${targets.join(', ')} with ${maxExamples} examples per operation and phase (FUZZ_MAX_EXAMPLES)`,
  );
  for (const target of targets) {
    if (interrupted) break;
    try {
      const result = await fuzz(target);
      results.push(result);
      say(
        `  ${target}: ${result.cases} cases in ${result.seconds.toFixed(0)} s · ${result.serverErrors.length} × 5xx · ` +
          `${result.findings.length} other distinct failures`,
      );
    } catch (error) {
      failedTargets.push(target);
      warn(`${target} could not be fuzzed: ${(error as Error).message}`);
    }
    await checkServices(target);
  }
} finally {
  await suite.close();
  await downStarted(started);
}

const causes = groupServerErrors(results);
const findingsFile = join(workDir, 'findings.md');
writeFileSync(findingsFile, markdown(results, causes));

say(
  contract
    ? `\n━━ Check failures (each with a curl in ${relative(paths.repo, findingsFile)})`
    : `\n━━ Other check failures (reported, not failing the run; each with a curl in ${relative(paths.repo, findingsFile)})`,
);
for (const result of results) {
  say(`  ${result.target}:`);
  printFindings(result);
  for (const [error, count] of result.toolErrors) say(`    schemathesis error (${count}×): ${error}`);
}
const unattached = [...logs.unattached.values()];
if (unattached.length > 0) {
  say('\n━━ Errors the services logged outside any request (event consumers, jobs):');
  for (const { entry, count } of unattached) {
    say(
      `  ${count}× ${entry.service}: ${entry.msg}${entry.error ? ` — ${entry.error}` : ''}${entry.frame ? ` (at ${entry.frame})` : ''}`,
    );
  }
}

const serverErrors = causes.reduce((sum, cause) => sum + cause.requests, 0);
say(`\n━━ 5xx: ${serverErrors} responses, ${causes.length} distinct causes`);
causes.forEach((cause, index) => {
  say(`  ${index + 1}. ${cause.text}`);
  say(`     ${[...cause.operations].map(([where, n]) => `${where} (${n}×)`).join(' · ')}`);
  say(`     answer: ${cause.example.response}`);
  say(`     ${cause.example.curl}`);
});
for (const casualty of casualties) say(`\n✗ ${casualty}`);

const cases = results.reduce((sum, result) => sum + result.cases, 0);
say(
  `\n${cases} cases over ${results.length} documents in ${seconds(began)} (${results.map((r) => `${r.target} ${r.cases}`).join(', ')})`,
);
const findings = results.reduce((sum, result) => sum + result.findings.length, 0);
const toolErrors = results.reduce((sum, result) => sum + result.toolErrors.size, 0);
const broken = serverErrors > 0 || casualties.length > 0 || failedTargets.length > 0 || interrupted;
if (contract) {
  const failed = broken || findings > 0 || toolErrors > 0 || cases < MIN_CONTRACT_CASES;
  say(
    `${failed ? '✗' : '✓'} contract: ${cases} cases (at least ${MIN_CONTRACT_CASES}), ${findings} distinct failures, ` +
      `${serverErrors} × 5xx, ${toolErrors} schemathesis errors`,
  );
  process.exit(failed ? 1 : 0);
}
say(broken ? `✗ fuzz: ${serverErrors} × 5xx` : '✓ fuzz: 0 × 5xx');
process.exit(broken ? 1 : 0);
