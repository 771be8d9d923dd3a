// `npm test` (after lint and typecheck): the stack, then Node's built-in test
// runner over shared/ and services/. Stops what it started and exits with the
// runner's code.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';

import { findLeaks } from '../../e2e/support/secret-watch.ts';
import { deleteStaleTestTopics } from '../../shared/src/testing/stale-topics.ts';
import { paths } from './config.ts';
import { pidRunning } from './proc.ts';
import { say, UserError } from './log.ts';
import { quietNodeOptions, stackEnv } from './services.ts';
import { downStarted, up } from './stack.ts';

const DEFAULT_PATTERNS = [
  'shared/test/**/*.test.ts',
  'services/*/test/**/*.test.ts',
  'clients/*/test/**/*.test.ts',
  'infra/test/**/*.test.ts',
  'e2e/**/*.test.ts',
];

/**
 * `args` are passed to the runner: patterns replace the defaults, flags
 * (written `--flag=value`) are added, e.g. `--test-name-pattern=orgs`.
 */
export async function test(args: string[]): Promise<number> {
  const started = new Set<string>();
  let runner: ChildProcess | undefined = undefined; // set once the stack is up
  let stopping: Promise<never> | undefined;
  const shutdown = (code: number): Promise<never> => {
    stopping ??= (async () => {
      await downStarted(started);
      process.exit(code);
    })();
    return stopping;
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      // Ctrl-C reaches the runner through the terminal; other signals we forward.
      // Either way its exit ends the run below, then the stack is stopped.
      if (runner) {
        if (signal !== 'SIGINT') runner.kill(signal);
      } else {
        void shutdown(128 + constants.signals[signal]);
      }
    });
  }

  try {
    await up(started);
  } catch (error) {
    if (!stopping) say(`✗ ${error instanceof UserError ? error.message : (error as Error).stack}`);
    return await shutdown(1);
  }
  if (stopping) return await stopping;
  await clearStaleTopics();

  const patterns = args.filter((arg) => !arg.startsWith('-'));
  const flags = args.filter((arg) => arg.startsWith('-'));
  const runnerArgs = [
    '--test',
    '--test-reporter=spec',
    ...flags,
    ...(patterns.length > 0 ? patterns : DEFAULT_PATTERNS),
  ];
  say(`→ node ${runnerArgs.join(' ')}`);
  // The e2e suites' service logs and the secrets their clients handled, for the watch below.
  // One folder per run, so two runs side by side do not clear each other's; those of runs that
  // have ended are cleared here.
  const e2eLogs = join(paths.home, 'logs', `e2e-run-${process.pid}`);
  clearEndedRuns(join(paths.home, 'logs'));
  runner = spawn(process.execPath, runnerArgs, {
    cwd: paths.repo,
    stdio: 'inherit',
    env: {
      ...process.env,
      ...stackEnv(),
      NODE_ENV: process.env.NODE_ENV ?? 'test',
      NODE_OPTIONS: quietNodeOptions(),
      // Which components this run started (empty: the stack was already up).
      TRELLIS_STACK_STARTED_BY_TEST: [...started].join(','),
      E2E_LOG_DIR: e2eLogs,
    },
  });
  const code = await new Promise<number>((resolve) => {
    runner.on('exit', (exitCode, signal) => {
      resolve(exitCode ?? (signal ? 128 + constants.signals[signal] : 1));
    });
  });
  await downStarted(started);
  return secretWatch(e2eLogs) ? code : code || 1;
}

/** No secret a client of the e2e run handled may be in any of its services' logs (issue 24). */
function secretWatch(logDir: string): boolean {
  if (!existsSync(logDir)) return true;
  const report = findLeaks(logDir);
  const searched = `${report.secrets} secrets searched in ${report.files} service logs (${(report.bytes / 1e6).toFixed(1)} MB)`;
  if (report.leaks.length === 0) {
    say(`✓ secret watch: ${searched}: none logged`);
    return true;
  }
  say(`✗ secret watch: ${searched}: ${report.leaks.length} logged:`);
  for (const leak of report.leaks) say(`  a ${leak.kind} in ${join(logDir, leak.file)}`);
  return false;
}

/** Older than this, a test topic belongs to a finished run (runs take minutes). */
const STALE_TOPIC_AGE_MS = 2 * 60 * 60_000;

/**
 * Test topics of earlier runs on a long-lived local broker (thousands of partitions after a few
 * runs) would exhaust its file descriptors; a failure to clean is reported, not fatal.
 */
export async function clearStaleTopics(): Promise<void> {
  try {
    const deleted = await deleteStaleTestTopics((stackEnv().KAFKA_BROKERS ?? '').split(','), {
      olderThanMs: STALE_TOPIC_AGE_MS,
      onProgress: (done, total) => say(`  deleting test topics of earlier runs: ${done}/${total}`),
    });
    if (deleted > 0) say(`✓ deleted ${deleted} test topics of earlier runs`);
  } catch (error) {
    say(`! could not delete old test topics: ${(error as Error).message}`);
  }
}

/** Removes the log folders of e2e runs whose process is gone. */
function clearEndedRuns(logs: string): void {
  if (!existsSync(logs)) return;
  for (const name of readdirSync(logs)) {
    const pid = Number(/^e2e-run(?:-(\d+))?$/.exec(name)?.[1] ?? NaN);
    if (/^e2e-run/.test(name) && !(Number.isInteger(pid) && pidRunning(pid)))
      rmSync(join(logs, name), { recursive: true, force: true });
  }
}
