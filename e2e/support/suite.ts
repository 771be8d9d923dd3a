import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../infra/local/proc.ts';
import { serviceLog } from './secret-watch.ts';
import { SERVICE_NODE_OPTIONS, withDatabase } from '../../infra/local/services.ts';
import {
  createTestDatabase,
  deleteTopicsWithPrefix,
  dropMongoDatabase,
  stack,
  testKafka,
  testMongoUrl,
  uniqueName,
  waitFor,
  type TestDatabase,
} from '@trellis/shared/testing';

export const SERVICES = ['identity', 'governance', 'work', 'collab', 'notify', 'gateway'] as const;
export type ServiceName = (typeof SERVICES)[number];

const POSTGRES_SERVICES: ServiceName[] = ['identity', 'governance', 'work'];
const MONGO_SERVICES: ServiceName[] = ['collab', 'notify'];
const repo = join(import.meta.dirname, '..', '..');

export interface Suite {
  gatewayUrl: string;
  urls: Record<ServiceName, string>;
  /** Where each service's `GET /metrics` answers: the gateway's on its metrics port, not the public one. */
  metricsUrls: Record<ServiceName, string>;
  /** Prepended to this suite's topics and consumer groups. */
  topicPrefix: string;
  /** SIGKILLs a service (a crash, not a drain). */
  kill: (name: ServiceName) => Promise<void>;
  /** Starts a stopped service again on the same port and waits until it is ready. */
  start: (name: ServiceName) => Promise<void>;
  logs: (name: ServiceName) => string;
  /** The running process of a service (a benchmark reads its CPU time), undefined when stopped. */
  pid: (name: ServiceName) => number | undefined;
  /** A PostgreSQL service's own database (for checks no API offers, e.g. tampering with the audit log). */
  databaseUrl: (name: ServiceName) => string;
  close: () => Promise<void>;
}

export interface SuiteOptions {
  /** Extra env per service (e.g. higher rate limits for a benchmark). */
  env?: Partial<Record<ServiceName, Record<string, string>>>;
  logLevel?: string;
  /** Receives every chunk a service writes (`logs` keeps only the last 20 000 characters). */
  onOutput?: (name: ServiceName, chunk: string) => void;
  /** A broker of the test's own (one it kills and restarts) instead of the stack's. */
  kafkaBrokers?: string[];
  /**
   * Databases and topics named `<label>_<service>` and `<label>.`, kept when the suite closes, so a
   * later suite with the same label finds their data again (a benchmark's seeded volumes).
   */
  keptAs?: string;
}

/**
 * The whole suite as real processes, exactly as `npm start` runs it, but on free ports with fresh
 * databases and a unique topic prefix, so end-to-end tests and benchmarks never share state.
 */
export async function startSuite(options: SuiteOptions = {}): Promise<Suite> {
  const kept = options.keptAs;
  const label = kept ?? uniqueName('e2e');
  const kafka = {
    ...testKafka('e2e'),
    ...(kept ? { topicPrefix: `${kept}.` } : {}),
    ...(options.kafkaBrokers ? { brokers: options.kafkaBrokers } : {}),
  };
  const databases = new Map<ServiceName, TestDatabase>();
  for (const name of POSTGRES_SERVICES)
    databases.set(
      name,
      kept
        ? await keptDatabase(`${kept}_${name}`)
        : await createTestDatabase(`${label}_${name}`.slice(0, 40)),
    );
  const ports = Object.fromEntries(
    await Promise.all(SERVICES.map(async (name) => [name, await freePort()])),
  ) as Record<ServiceName, number>;
  const urls = Object.fromEntries(
    SERVICES.map((name) => [name, `http://127.0.0.1:${ports[name]}`]),
  ) as Record<ServiceName, string>;
  const gatewayMetricsPort = await freePort();
  const metricsUrls = Object.fromEntries(
    SERVICES.map((name) => [
      name,
      name === 'gateway' ? `http://127.0.0.1:${gatewayMetricsPort}/metrics` : `${urls[name]}/metrics`,
    ]),
  ) as Record<ServiceName, string>;

  const envFor = (name: ServiceName): Record<string, string> => ({
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'test',
    LOG_LEVEL: options.logLevel ?? process.env.E2E_LOG_LEVEL ?? 'warn',
    PORT: String(ports[name]),
    KAFKA_BROKERS: kafka.brokers.join(','),
    KAFKA_TOPIC_PREFIX: kafka.topicPrefix,
    KAFKA_TOPIC_PARTITIONS: String(kafka.partitions),
    ...(POSTGRES_SERVICES.includes(name) ? { DATABASE_URL: databases.get(name)?.url ?? '' } : {}),
    ...(MONGO_SERVICES.includes(name)
      ? { MONGO_URL: kept ? `${stack.mongoUrl}${kept}_${name}` : testMongoUrl(`${name}`) }
      : {}),
    ...(name === 'notify'
      ? {
          SMTP_HOST: stack.smtpHost,
          SMTP_PORT: String(stack.smtpPort),
          APP_URL: `http://127.0.0.1:${ports.gateway}`,
        }
      : {}),
    ...(name !== 'gateway' && name !== 'identity' ? { IDENTITY_URL: urls.identity } : {}),
    ...(['work', 'collab', 'notify'].includes(name) ? { GOVERNANCE_URL: urls.governance } : {}),
    ...(name === 'collab' || name === 'notify' ? { WORK_URL: urls.work } : {}),
    ...(name === 'notify' ? { COLLAB_URL: urls.collab } : {}),
    ...(name === 'gateway'
      ? {
          METRICS_PORT: String(gatewayMetricsPort),
          ...Object.fromEntries(
            SERVICES.filter((s) => s !== 'gateway').map((s) => [`${s.toUpperCase()}_URL`, urls[s]]),
          ),
        }
      : {}),
    ...options.env?.[name],
    // A caller's options (a benchmark's --cpu-prof) come on top of every service's own.
    NODE_OPTIONS: [SERVICE_NODE_OPTIONS, options.env?.[name]?.NODE_OPTIONS].filter(Boolean).join(' '),
  });
  // Mongo database names are fixed per suite, so a restarted service finds its data again.
  const mongoEnv = new Map(MONGO_SERVICES.map((name) => [name, envFor(name).MONGO_URL ?? '']));

  const processes = new Map<ServiceName, ChildProcess>();
  const output = new Map<ServiceName, string>();

  async function start(name: ServiceName): Promise<void> {
    const env = { ...envFor(name), ...(mongoEnv.has(name) ? { MONGO_URL: mongoEnv.get(name) ?? '' } : {}) };
    const child = spawn(process.execPath, [join(repo, 'services', name, 'src', 'main.ts')], {
      cwd: join(repo, 'services', name),
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    processes.set(name, child);
    const logFile = serviceLog(label, name);
    const append = (chunk: Buffer) => {
      output.set(name, ((output.get(name) ?? '') + chunk.toString()).slice(-20_000));
      logFile?.write(chunk);
      options.onOutput?.(name, chunk.toString());
    };
    child.once('close', () => logFile?.end());
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    let exited = false;
    child.once('exit', () => (exited = true));
    await waitFor(
      async () => {
        if (exited) throw new Error(`${name} exited during start:\n${output.get(name) ?? ''}`);
        try {
          const response = await fetch(`${urls[name]}/health/ready`, { signal: AbortSignal.timeout(1_000) });
          return response.ok;
        } catch {
          return false;
        }
      },
      { timeoutMs: 60_000, intervalMs: 100, what: `${name} to be ready` },
    );
  }

  async function stop(name: ServiceName, signal: NodeJS.Signals): Promise<void> {
    const child = processes.get(name);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
    processes.delete(name);
  }

  try {
    for (const name of SERVICES) await start(name);
  } catch (err) {
    await Promise.all(SERVICES.map((name) => stop(name, 'SIGKILL')));
    throw err;
  }

  return {
    gatewayUrl: urls.gateway,
    urls,
    metricsUrls,
    topicPrefix: kafka.topicPrefix,
    start,
    kill: (name) => stop(name, 'SIGKILL'),
    logs: (name) => output.get(name) ?? '',
    pid: (name) => processes.get(name)?.pid,
    databaseUrl: (name) => {
      const db = databases.get(name);
      if (!db) throw new Error(`${name} has no PostgreSQL database`);
      return db.url;
    },
    close: async () => {
      await Promise.all([...processes.keys()].map((name) => stop(name, 'SIGTERM')));
      if (kept) return;
      await Promise.all([...databases.values()].map((db) => db.drop()));
      await Promise.all(
        [...mongoEnv.values()].map((url) =>
          dropMongoDatabase(url).catch((err: unknown) =>
            console.warn(`suite database not dropped: ${(err as Error).message}`),
          ),
        ),
      );
      // Its topics too: left behind, they would weigh on the broker for later runs (heap, GC pauses).
      await deleteTopicsWithPrefix(kafka.brokers, kafka.topicPrefix).catch((err: unknown) =>
        console.warn(`suite topics not deleted: ${(err as Error).message}`),
      );
    },
  };
}

/** A database of that name, created unless it exists; never dropped by the suite. */
async function keptDatabase(name: string): Promise<TestDatabase> {
  const admin = new pg.Client({ connectionString: stack.adminDatabaseUrl });
  await admin.connect();
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
  return { name, url: withDatabase(stack.adminDatabaseUrl, name), drop: async () => undefined };
}

/** Drops what a second `npm start` (TRELLIS_DB_PREFIX=<prefix>) created in the stack: its databases. */
export async function dropStackDatabases(prefix: string): Promise<void> {
  const admin = new pg.Client({ connectionString: stack.adminDatabaseUrl });
  await admin.connect();
  try {
    for (const name of POSTGRES_SERVICES)
      await admin.query(
        `DROP DATABASE IF EXISTS ${admin.escapeIdentifier(`${prefix}_${name}`)} WITH (FORCE)`,
      );
  } finally {
    await admin.end();
  }
  for (const name of MONGO_SERVICES)
    await dropMongoDatabase(`${stack.mongoUrl}${prefix}_${name}`).catch((err: unknown) =>
      console.warn(`${prefix}_${name} not dropped: ${(err as Error).message}`),
    );
}
