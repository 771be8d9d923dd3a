// `npm start`: the stack, the service databases and the six services in the
// foreground, supervised (a crashed service is started again with backoff);
// Ctrl-C stops the services and whatever part of the stack this command started.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { styleText } from 'node:util';

import { endpoints, env, paths } from './config.ts';
import { say, seconds, step, UserError } from './log.ts';
import { migrateServiceDatabases } from './migrations.ts';
import { ensureDatabases } from './postgres/postgres.ts';
import { portInUse, waitUntil } from './proc.ts';
import {
  databaseName,
  quietNodeOptions,
  serviceDir,
  replicaCount,
  replicasOf,
  replicaUrl,
  serviceEnv,
  services,
  serviceUrl,
  type Replica,
  withDatabase,
  type Service,
} from './services.ts';
import { downStarted, up } from './stack.ts';
import { CrashPolicy, listenForCommands, MAX_CRASHES, CRASH_WINDOW_MS } from './supervisor.ts';

const READY_TIMEOUT_MS = 60_000;
/** More than a service's own shutdown timeout (20 s at several replicas, the drain included). */
const STOP_TIMEOUT_MS = 25_000;
/** Two of the gateway's health-check intervals: a restarted replica is back in its rotation. */
const ROTATION_WAIT_MS = 2_000;
const COLOURS = ['cyan', 'magenta', 'yellow', 'green', 'blue', 'red'] as const;

interface Running {
  replica: Replica;
  /** Its colour in the log. */
  index: number;
  child: ChildProcess;
  /** The last lines it printed, shown if it dies. */
  recent: string[];
  crashes: CrashPolicy;
  /** Set while a requested restart replaces the process: its exit is not a crash. */
  restarting: boolean;
}

const mainFile = (service: Service) => join(serviceDir(service), 'src', 'main.ts');

async function checkServices(count: number): Promise<void> {
  const missing = services.filter((service) => !existsSync(mainFile(service)));
  if (missing.length > 0) {
    const files = missing.map((service) => relative(paths.repo, mainFile(service)));
    throw new UserError(`cannot start Trellis: missing ${files.join(', ')}`);
  }
  for (const replica of services.flatMap((service) => replicasOf(service, count))) {
    if (await portInUse(replica.port)) {
      throw new UserError(
        `${replica.name}: port ${replica.port} is already in use. Stop that process, or set ${replica.service.portEnv} to a free port.`,
      );
    }
  }
}

async function createDatabases(): Promise<void> {
  const names = services.filter(({ store }) => store === 'postgres').map(databaseName);
  for (const name of await ensureDatabases(names)) say(`✓ created database ${name}`);
}

/** Each service's migration step, as its owner; the services then run as the runtime role. */
async function migrateDatabases(): Promise<void> {
  await migrateServiceDatabases(
    endpoints.databaseUrl,
    services
      .filter(({ store }) => store === 'postgres')
      .map((service) => ({
        service: service.name,
        ownerUrl: withDatabase(endpoints.databaseUrl, databaseName(service)),
      })),
  );
}

/** `--tracing` (or TRELLIS_TRACING=true): Jaeger runs too, and every service sends it spans. */
function tracingAsked(args: string[]): boolean {
  const flag = args.includes('--tracing');
  const unknown = args.filter((arg) => arg !== '--tracing' && !arg.startsWith('--replicas='));
  if (unknown.length > 0)
    throw new UserError(`unknown option ${unknown.join(' ')} (npm start -- [--tracing] [--replicas=N])`);
  return flag || env('TRELLIS_TRACING') === 'true';
}

function childEnv({ service, index }: Replica, count: number): NodeJS.ProcessEnv {
  // Our own env may hold the admin URLs; each service gets only its database.
  const inherited: NodeJS.ProcessEnv = { ...process.env };
  delete inherited.DATABASE_URL;
  delete inherited.MONGO_URL;
  return { ...inherited, NODE_OPTIONS: quietNodeOptions(), ...serviceEnv(service, index, count) };
}

type OnExit = (code: number | null, signal: string | null) => void;

/** Starts (or starts again) the service's process; `onExit` hears about it while it is the current one. */
function spawnService(running: Running, onExit: OnExit, count: number): void {
  const { replica, index } = running;
  const child = spawn(process.execPath, ['src/main.ts'], {
    cwd: serviceDir(replica.service),
    env: childEnv(replica, count),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.child = child;
  const prefix = styleText(COLOURS[index % COLOURS.length] ?? 'cyan', `${replica.name.padEnd(12)} │ `);
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      running.recent.push(line);
      if (running.recent.length > 30) running.recent.shift();
      process.stdout.write(`${prefix}${line}\n`);
    });
  }
  // 'close', not 'exit': by then all its output has been read. A process replaced meanwhile (a
  // requested restart) closes after its successor started: that is not a crash.
  child.on('close', (code, signal) => {
    if (running.child === child) onExit(code, signal);
  });
}

const lastLines = (running: Running) =>
  running.recent
    .slice(-20)
    .map((line) => `  │ ${line}`)
    .join('\n');

async function awaitReady(replica: Replica, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  if (!(await waitUntil(() => isReady(replica), timeoutMs)))
    throw new UserError(`${replica.name} not ready after ${timeoutMs / 1000}s`);
}

/** Stops one service gracefully (SIGKILL after STOP_TIMEOUT_MS). */
async function stopOne(running: Running): Promise<void> {
  const { child } = running;
  if (hasExited(child)) return;
  child.kill('SIGTERM');
  if (!(await waitUntil(() => hasExited(child), STOP_TIMEOUT_MS))) {
    child.kill('SIGKILL');
    await waitUntil(() => hasExited(child), 5_000);
  }
}

const hasExited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

async function isReady(replica: Replica): Promise<boolean> {
  try {
    const response = await fetch(`${replicaUrl(replica)}/health/ready`, {
      signal: AbortSignal.timeout(1_000),
    });
    return response.status === 200;
  } catch {
    return false;
  }
}

async function awaitServices(replicas: Replica[]): Promise<void> {
  const began = performance.now();
  const pending = new Set(replicas);
  let nextReport = began + 5_000;
  while (pending.size > 0) {
    await Promise.all(
      [...pending].map(async (replica) => {
        if (await isReady(replica)) {
          pending.delete(replica);
          say(`✓ ${replica.name} ready (${seconds(began)})`);
        }
      }),
    );
    if (pending.size === 0) return;
    const names = [...pending].map(({ name }) => name).join(', ');
    if (performance.now() - began > READY_TIMEOUT_MS) {
      throw new UserError(`not ready after ${READY_TIMEOUT_MS / 1000}s: ${names}`);
    }
    if (performance.now() >= nextReport) {
      say(`  … waiting for ${names} (${seconds(began)})`);
      nextReport += 5_000;
    }
    await sleep(500);
  }
}

async function stopServices(running: Running[]): Promise<void> {
  const alive = running.filter(({ child }) => !hasExited(child));
  if (alive.length === 0) return;
  await step(`stop services (${alive.map(({ replica }) => replica.name).join(', ')})`, async () => {
    for (const { child } of alive) child.kill('SIGTERM');
    const stopped = await waitUntil(() => alive.every(({ child }) => hasExited(child)), STOP_TIMEOUT_MS);
    if (!stopped) {
      for (const { child, replica } of alive.filter(({ child }) => !hasExited(child))) {
        say(`! ${replica.name} ignored SIGTERM for ${STOP_TIMEOUT_MS / 1000}s: SIGKILL`);
        child.kill('SIGKILL');
      }
      await waitUntil(() => alive.every(({ child }) => hasExited(child)), 5_000);
    }
  });
}

function printBanner(tracing: boolean, count: number): void {
  const [gateway, ...others] = services;
  if (!gateway) return;
  const urls = (service: Service) => replicasOf(service, count).map(replicaUrl).join(', ');
  say(`\nTrellis is up: gateway at ${serviceUrl(gateway)}`);
  if (count > 1) say(`  ${'gateways'.padEnd(11)} ${urls(gateway)} (${count} replicas of every service)`);
  for (const service of others) say(`  ${service.name.padEnd(11)} ${urls(service)}`);
  say(`  ${'MailDev UI'.padEnd(11)} ${endpoints.maildevUrl}`);
  if (tracing)
    say(
      `  ${'Jaeger'.padEnd(11)} ${endpoints.jaegerUrl}/api/traces?service=gateway (query API; see docs/observability.md)`,
    );
  say(
    `Restart one service: npm run service -- restart <name>${count > 1 ? ' (one replica at a time; <name>#<n>: one)' : ''}. Press Ctrl-C to stop.\n`,
  );
}

export async function start(args: string[] = []): Promise<number> {
  const tracing = tracingAsked(args);
  const count = replicaCount(args);
  // Every service inherits it; an endpoint the user set (an OTel Collector of theirs) wins over ours.
  if (tracing && !env('OTEL_EXPORTER_OTLP_ENDPOINT'))
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = endpoints.otlpUrl;
  await checkServices(count);
  const started = new Set<string>();
  const running: Running[] = [];
  let stopping: Promise<never> | undefined;
  /** Set once every service was ready: from then on a crash is restarted, not fatal. */
  let supervising = false;

  // One way out, whatever triggers it: stop services, then our part of the stack.
  const shutdown = (code: number, reason: string): Promise<never> => {
    stopping ??= (async () => {
      say(reason);
      await stopServices(running);
      await downStarted(started);
      process.exit(code);
    })();
    return stopping;
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (stopping) say('(already stopping, please wait)');
      else void shutdown(0, `\n${signal}: stopping Trellis…`);
    });
  }

  try {
    await up(started, { tracing });
    if (stopping) return await stopping;
    await step('create service databases', createDatabases);
    if (stopping) return await stopping;
    await step('migrate service databases', migrateDatabases);
    if (stopping) return await stopping;

    const onExit =
      (running: Running): OnExit =>
      (code, signal) => {
        if (stopping || running.restarting) return;
        const how = signal ?? `code ${code}`;
        // Before everything was ready once, a crash is a set-up problem: say so and stop.
        if (!supervising) {
          void shutdown(
            1,
            `✗ ${running.replica.name} exited (${how}); its last lines:\n${lastLines(running)}`,
          );
          return;
        }
        const delay = running.crashes.crashed(Date.now());
        if (delay === undefined) {
          void shutdown(
            1,
            `✗ ${running.replica.name} crashed ${MAX_CRASHES + 1} times in ${CRASH_WINDOW_MS / 60_000} min: giving up; its last lines:\n${lastLines(running)}`,
          );
          return;
        }
        say(
          `✗ ${running.replica.name} exited (${how}); starting it again in ${delay / 1000}s (crash ${running.crashes.recent} of ${MAX_CRASHES} allowed in ${CRASH_WINDOW_MS / 60_000} min); its last lines:\n${lastLines(running)}`,
        );
        setTimeout(() => {
          // Stopping, or already started again by a requested restart meanwhile.
          if (stopping || !hasExited(running.child)) return;
          const began = performance.now();
          spawnService(running, onExit(running), count);
          awaitReady(running.replica).then(
            () => say(`✓ ${running.replica.name} is back (${seconds(began)})`),
            (error: unknown) => say(`! ${(error as Error).message}`),
          );
        }, delay).unref();
      };
    for (const [index, service] of services.entries()) {
      for (const replica of replicasOf(service, count)) {
        const entry: Running = {
          replica,
          index,
          child: undefined as unknown as ChildProcess,
          recent: [],
          crashes: new CrashPolicy(),
          restarting: false,
        };
        running.push(entry);
        spawnService(entry, onExit(entry), count);
      }
    }
    const restartOne = async (target: Running) => {
      const began = performance.now();
      target.restarting = true;
      try {
        say(`↻ restarting ${target.replica.name} (asked by npm run service)`);
        await stopOne(target);
      } finally {
        target.restarting = false;
      }
      // From here the new process is supervised like any other: a crash is restarted.
      spawnService(target, onExit(target), count);
      await awaitReady(target.replica);
      say(`✓ ${target.replica.name} restarted (${seconds(began)})`);
    };
    await listenForCommands(async (command) => {
      const [verb, name] = command.split(/\s+/);
      // `work`: every replica of it, one at a time; `work#2`: that one.
      const targets = running.filter(({ replica }) => replica.name === name || replica.service.name === name);
      if (verb !== 'restart' || targets.length === 0) {
        throw new Error(`unknown command "${command}" (restart <${services.map((s) => s.name).join('|')}>)`);
      }
      if (targets.some((target) => target.restarting)) throw new Error(`${name} is already restarting`);
      const began = performance.now();
      for (const [i, target] of targets.entries()) {
        await restartOne(target);
        // Back in the gateway's rotation (its next health check) before the next one stops.
        if (i < targets.length - 1) await sleep(ROTATION_WAIT_MS);
      }
      return `${name} restarted and ready in ${seconds(began)}`;
    });
    await step('wait for services (/health/ready)', () => awaitServices(running.map((r) => r.replica)));
  } catch (error) {
    if (stopping) return await stopping;
    const message = error instanceof UserError ? error.message : (error as Error).stack;
    return await shutdown(1, `✗ ${message ?? String(error)}`);
  }
  if (stopping) return await stopping;
  supervising = true;
  printBanner(tracing, count);
  return await new Promise<never>(() => undefined); // runs until a signal or a service exits
}
