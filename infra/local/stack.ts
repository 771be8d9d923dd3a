// The four infrastructure components (five with tracing: Jaeger) as one stack: provision, up, down, status.
import type { Component } from './component.ts';
import { endpoints, paths, redact } from './config.ts';
import { isPromtoolProvisioned, provisionPromtool } from '../observability/promtool.ts';
import { ferretdb } from './ferretdb/ferretdb.ts';
import { jaeger } from './jaeger/jaeger.ts';
import { kafka } from './kafka/kafka.ts';
import { say, seconds, step, UserError } from './log.ts';
import { maildev } from './maildev/maildev.ts';
import { postgres } from './postgres/postgres.ts';
import {
  findProcess,
  isAlive,
  portInUse,
  readPid,
  removePid,
  tail,
  terminate,
  waitUntil,
  writePid,
} from './proc.ts';

export const components: Component[] = [kafka, postgres, ferretdb, maildev];
/** Started only when asked for (`npm start -- --tracing`); stopped and shown like the others. */
const onDemand: Component[] = [jaeger];
const everyComponent = [...components, ...onDemand];

export interface StackOptions {
  /** Jaeger too, for the services' traces. */
  tracing?: boolean;
}

/** The components we run ourselves (not pointed elsewhere by env). */
function managed(options: StackOptions = {}): Component[] {
  return (options.tracing ? everyComponent : components).filter((component) => !component.external);
}

/** Waits for every task, then fails with all their messages at once. */
async function settle(tasks: Promise<unknown>[]): Promise<void> {
  const errors = (await Promise.allSettled(tasks)).flatMap((result) =>
    result.status === 'rejected' ? [result.reason as unknown] : [],
  );
  const bug = errors.find((error) => !(error instanceof UserError));
  if (bug !== undefined) throw bug;
  if (errors.length > 0) throw new UserError(errors.map((error) => (error as Error).message).join('\n✗ '));
}

/**
 * Builds what the cache lacks: the components, and with `tools` (`npm run stack:provision`, which CI
 * runs) what the tests use too — promtool for the alert rules, Jaeger for the tracing test. `up`
 * needs only the components; a test that finds its tool missing builds it itself.
 */
export async function provision(options: StackOptions & { tools?: boolean } = {}): Promise<void> {
  const missing = managed({ tracing: options.tracing || options.tools })
    .filter((component) => !component.isProvisioned())
    .map((component) => ({ name: component.name, provision: component.provision }));
  if (options.tools && !isPromtoolProvisioned())
    missing.push({ name: 'promtool', provision: provisionPromtool });
  if (missing.length === 0) {
    say(`✓ provisioned (cache ${paths.cache})`);
    return;
  }
  say(`Provisioning into ${paths.cache} (once per machine; later runs reuse it)`);
  await settle(missing.map((each) => step(`provision ${each.name}`, (progress) => each.provision(progress))));
}

/** Our live daemon's pid, from the pid file or else found by its command line (the file is then fixed). */
function runningPid(component: Component): number | undefined {
  const file = paths.pid(component.name);
  const recorded = readPid(file);
  if (recorded !== undefined && isAlive(recorded, component.marker)) return recorded;
  const found = findProcess(component.marker);
  if (found === undefined) removePid(file);
  else writePid(file, found);
  return found;
}

async function awaitReady(component: Component, pid: number): Promise<void> {
  const log = paths.log(component.name);
  const answered = await waitUntil(
    async () => {
      if (!isAlive(pid, component.marker)) {
        throw new UserError(`${component.name} exited while starting; last lines of ${log}:\n${tail(log)}`);
      }
      return component.ready();
    },
    component.readyTimeoutMs,
    500,
  );
  if (!answered) {
    throw new UserError(
      `${component.name} (pid ${pid}) did not answer within ${component.readyTimeoutMs / 1000}s; see ${log}`,
    );
  }
}

async function ensureUp(component: Component, started: Set<string>): Promise<void> {
  const running = runningPid(component);
  if (running !== undefined) {
    if (await component.ready()) {
      say(`✓ ${component.name} already running (pid ${running})`);
    } else {
      await step(`${component.name} (pid ${running}) is running; waiting until it answers`, () =>
        awaitReady(component, running),
      );
    }
    return;
  }
  for (const { port, env } of component.ports) {
    if (await portInUse(port)) {
      const orExternal = component.externalEnv
        ? `, or set ${component.externalEnv} to use an existing server`
        : '';
      throw new UserError(
        `${component.name}: port ${port} is already in use by another process. ` +
          `Stop it, or set ${env} to a free port${orExternal}.`,
      );
    }
  }
  started.add(component.name); // before spawning, so an interrupted start is still cleaned up
  await step(`start ${component.name}`, async (progress) => {
    const pid = await component.start(progress);
    writePid(paths.pid(component.name), pid);
    progress('waiting until it answers');
    await awaitReady(component, pid);
  });
}

/**
 * Provisions what is missing and starts what is not running. Names of the
 * components this call started are added to `started` as it goes, so a caller
 * can stop exactly those, even after a failure or an interrupt.
 */
export async function up(started = new Set<string>(), options: StackOptions = {}): Promise<Set<string>> {
  const began = performance.now();
  await provision(options);
  for (const component of components) {
    if (component.external) say(`• ${component.name}: not started, using ${component.external}`);
  }
  await settle(managed(options).map((component) => ensureUp(component, started)));
  say(`Stack up in ${seconds(began)}:`);
  say(`  Kafka       ${endpoints.kafkaBrokers}`);
  say(`  PostgreSQL  ${redact(endpoints.databaseUrl)}`);
  say(`  MongoDB     ${redact(endpoints.mongoUrl)} (FerretDB)`);
  say(`  SMTP        ${endpoints.smtpHost}:${endpoints.smtpPort}`);
  say(`  MailDev UI  ${endpoints.maildevUrl}`);
  if (options.tracing)
    say(`  Jaeger      ${endpoints.jaegerUrl} (query API; OTLP in at ${endpoints.otlpUrl})`);
  return started;
}

/** Stops the named components (default: all) that are running. */
export async function down(only?: ReadonlySet<string>): Promise<void> {
  const selected = everyComponent.filter((component) => !only || only.has(component.name));
  await settle(
    selected.map(async (component) => {
      const pid = runningPid(component);
      if (pid === undefined) {
        say(`• ${component.name} not running`);
      } else {
        await step(`stop ${component.name} (pid ${pid})`, () =>
          component.stop ? component.stop(pid) : terminate(pid, component.marker, component.stopTimeoutMs),
        );
      }
      removePid(paths.pid(component.name));
    }),
  );
}

export async function status(): Promise<void> {
  const rows = await Promise.all(
    everyComponent.map(async (component) => {
      const ports = component.ports
        .map(({ port, label }) => (label ? `${port} (${label})` : String(port)))
        .join(', ');
      if (component.external) return [component.name, 'external', '-', component.external];
      const pid = runningPid(component);
      if (pid === undefined) return [component.name, 'down', '-', ports];
      const state = (await component.ready()) ? 'up' : 'not answering';
      return [component.name, state, String(pid), ports];
    }),
  );
  const table = [['component', 'state', 'pid', 'port'], ...rows];
  const widths = [0, 1, 2].map((column) => Math.max(...table.map((row) => row[column]?.length ?? 0)));
  for (const row of table) {
    say(row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  '));
  }
  say(`\nstate: ${paths.home}   cache: ${paths.cache}`);
}

/**
 * Stops what a command (`start`, `test`) started itself and names the
 * components it leaves running because they were up before it.
 */
export async function downStarted(started: ReadonlySet<string>): Promise<void> {
  if (started.size > 0) await down(started);
  const leftRunning = managed({ tracing: true })
    .filter((component) => !started.has(component.name) && runningPid(component) !== undefined)
    .map((component) => component.name);
  if (leftRunning.length > 0) {
    say(`Left running (they were up before this command): ${leftRunning.join(', ')}.`);
    say('  `npm run stack:down` stops them.');
  }
}
