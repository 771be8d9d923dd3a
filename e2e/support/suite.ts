import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { asRuntimeRole, migrateServiceDatabases } from '../../infra/local/migrations.ts';
import { freePort } from '../../infra/local/proc.ts';
import { serviceLog } from './secret-watch.ts';
import {
  DRAIN_MS_AT_REPLICAS,
  SERVICE_NODE_OPTIONS,
  SHUTDOWN_TIMEOUT_MS_AT_REPLICAS,
  withDatabase,
} from '../../infra/local/services.ts';
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

/** The gateway's database holds the rate-limit counters its replicas share (RATE_LIMIT_STORE=postgres). */
const POSTGRES_SERVICES: ServiceName[] = ['identity', 'governance', 'work', 'gateway'];
const MONGO_SERVICES: ServiceName[] = ['collab', 'notify'];
const repo = join(import.meta.dirname, '..', '..');

export interface Suite {
  /** The first gateway replica's URL. */
  gatewayUrl: string;
  /** Each service's first replica's URL. */
  urls: Record<ServiceName, string>;
  /** Every replica's URL, per service (one each unless `replicas` was given). */
  replicaUrls: Record<ServiceName, string[]>;
  /** Where each service's `GET /metrics` answers: the gateway's on its metrics port, not the public one. */
  metricsUrls: Record<ServiceName, string>;
  /** Prepended to this suite's topics and consumer groups. */
  topicPrefix: string;
  /** SIGKILLs a service's replicas, or the one at `replica` (a crash, not a drain). */
  kill: (name: ServiceName, replica?: number) => Promise<void>;
  /** SIGTERMs one replica (a drain) and waits until it has exited. */
  stop: (name: ServiceName, replica: number) => Promise<void>;
  /** Starts a service's stopped replicas (or the one) again on their ports and waits until ready. */
  start: (name: ServiceName, replica?: number) => Promise<void>;
  /** The last output of a service's replicas. */
  logs: (name: ServiceName) => string;
  /** The running process of a replica (a benchmark reads its CPU time), undefined when stopped. */
  pid: (name: ServiceName, replica?: number) => number | undefined;
  /**
   * A PostgreSQL service's own database as its owner (for checks no API offers, e.g. tampering with
   * the audit log); the service itself connects as the runtime role.
   */
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
  /**
   * Processes per service (default 1, or E2E_REPLICAS), each on its own port, as `npm start --
   * --replicas=N`; or a count per service (the others one).
   */
  replicas?: number | Partial<Record<ServiceName, number>>;
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
  // The migration step, as each database's owner, before any service starts (as the runtime role).
  await migrateServiceDatabases(
    stack.adminDatabaseUrl,
    [...databases].map(([service, db]) => ({ service, ownerUrl: db.url })),
  );
  const asked = options.replicas ?? Number(process.env.E2E_REPLICAS ?? 1);
  const countOf = (name: ServiceName) => (typeof asked === 'number' ? asked : (asked[name] ?? 1));
  const several = SERVICES.some((name) => countOf(name) > 1);
  const freePorts = async (count: number) => Promise.all(Array.from({ length: count }, () => freePort()));
  const ports = Object.fromEntries(
    await Promise.all(SERVICES.map(async (name) => [name, await freePorts(countOf(name))])),
  ) as Record<ServiceName, number[]>;
  const replicaUrls = Object.fromEntries(
    SERVICES.map((name) => [name, ports[name].map((port) => `http://127.0.0.1:${port}`)]),
  ) as Record<ServiceName, string[]>;
  const urls = Object.fromEntries(SERVICES.map((name) => [name, replicaUrls[name][0]])) as Record<
    ServiceName,
    string
  >;
  const gatewayMetricsPorts = await freePorts(countOf('gateway'));
  const metricsUrls = Object.fromEntries(
    SERVICES.map((name) => [
      name,
      name === 'gateway' ? `http://127.0.0.1:${gatewayMetricsPorts[0]}/metrics` : `${urls[name]}/metrics`,
    ]),
  ) as Record<ServiceName, string>;
  /** A service's replicas as the comma list the *_URL settings take. */
  const listOf = (name: ServiceName) => replicaUrls[name].join(',');

  const envFor = (name: ServiceName, replica: number): Record<string, string> => ({
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'test',
    LOG_LEVEL: options.logLevel ?? process.env.E2E_LOG_LEVEL ?? 'warn',
    PORT: String(ports[name][replica]),
    // As npm start at several replicas: a stopping one drains first (infra/local/services.ts).
    ...(several
      ? {
          SHUTDOWN_DRAIN_MS: String(DRAIN_MS_AT_REPLICAS),
          SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS_AT_REPLICAS),
        }
      : {}),
    KAFKA_BROKERS: kafka.brokers.join(','),
    KAFKA_TOPIC_PREFIX: kafka.topicPrefix,
    KAFKA_TOPIC_PARTITIONS: String(kafka.partitions),
    ...(POSTGRES_SERVICES.includes(name)
      ? { DATABASE_URL: asRuntimeRole(databases.get(name)?.url ?? '') }
      : {}),
    ...(MONGO_SERVICES.includes(name)
      ? { MONGO_URL: kept ? `${stack.mongoUrl}${kept}_${name}` : testMongoUrl(`${name}`) }
      : {}),
    ...(name === 'notify'
      ? {
          SMTP_HOST: stack.smtpHost,
          SMTP_PORT: String(stack.smtpPort),
          APP_URL: urls.gateway,
        }
      : {}),
    ...(name !== 'gateway' && name !== 'identity' ? { IDENTITY_URL: listOf('identity') } : {}),
    ...(['work', 'collab', 'notify'].includes(name) ? { GOVERNANCE_URL: listOf('governance') } : {}),
    ...(name === 'collab' || name === 'notify' ? { WORK_URL: listOf('work') } : {}),
    ...(name === 'notify' ? { COLLAB_URL: listOf('collab') } : {}),
    ...(name === 'gateway'
      ? {
          RATE_LIMIT_STORE: 'postgres',
          METRICS_PORT: String(gatewayMetricsPorts[replica]),
          ...Object.fromEntries(
            SERVICES.filter((s) => s !== 'gateway').map((s) => [`${s.toUpperCase()}_URL`, listOf(s)]),
          ),
        }
      : {}),
    ...options.env?.[name],
    // A caller's options (a benchmark's --cpu-prof) come on top of every service's own.
    NODE_OPTIONS: [SERVICE_NODE_OPTIONS, options.env?.[name]?.NODE_OPTIONS].filter(Boolean).join(' '),
  });
  // Mongo database names are fixed per suite, so a restarted service finds its data again.
  const mongoEnv = new Map(MONGO_SERVICES.map((name) => [name, envFor(name, 0).MONGO_URL ?? '']));

  /** Running processes by `<service>#<replica>`. */
  const processes = new Map<string, ChildProcess>();
  const output = new Map<ServiceName, string>();
  const key = (name: ServiceName, replica: number) => `${name}#${replica}`;
  const indexes = (name: ServiceName, replica: number | undefined) =>
    replica === undefined ? Array.from({ length: countOf(name) }, (_, i) => i) : [replica];

  async function start(name: ServiceName, replica?: number): Promise<void> {
    const stopped = indexes(name, replica).filter((index) => !processes.has(key(name, index)));
    await Promise.all(stopped.map((index) => startOne(name, index)));
  }

  async function startOne(name: ServiceName, replica: number): Promise<void> {
    const env = {
      ...envFor(name, replica),
      ...(mongoEnv.has(name) ? { MONGO_URL: mongoEnv.get(name) ?? '' } : {}),
    };
    const child = spawn(process.execPath, [join(repo, 'services', name, 'src', 'main.ts')], {
      cwd: join(repo, 'services', name),
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    processes.set(key(name, replica), child);
    const logFile = serviceLog(label, countOf(name) > 1 ? `${name}-${replica + 1}` : name);
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
          const response = await fetch(`${replicaUrls[name][replica]}/health/ready`, {
            signal: AbortSignal.timeout(1_000),
          });
          return response.ok;
        } catch {
          return false;
        }
      },
      { timeoutMs: 60_000, intervalMs: 100, what: `${name} to be ready` },
    );
  }

  async function stopOne(id: string, signal: NodeJS.Signals): Promise<void> {
    const child = processes.get(id);
    processes.delete(id);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }
  const stop = (name: ServiceName, signal: NodeJS.Signals, replica?: number) =>
    Promise.all(indexes(name, replica).map((index) => stopOne(key(name, index), signal)));

  try {
    for (const name of SERVICES) await start(name);
  } catch (err) {
    await Promise.all(SERVICES.map((name) => stop(name, 'SIGKILL')));
    throw err;
  }

  return {
    gatewayUrl: urls.gateway,
    urls,
    replicaUrls,
    metricsUrls,
    topicPrefix: kafka.topicPrefix,
    start,
    kill: async (name, replica) => void (await stop(name, 'SIGKILL', replica)),
    stop: async (name, replica) => void (await stop(name, 'SIGTERM', replica)),
    logs: (name) => output.get(name) ?? '',
    pid: (name, replica = 0) => processes.get(key(name, replica))?.pid,
    databaseUrl: (name) => {
      const db = databases.get(name);
      if (!db) throw new Error(`${name} has no PostgreSQL database`);
      return db.url;
    },
    close: async () => {
      await Promise.all([...processes.keys()].map((id) => stopOne(id, 'SIGTERM')));
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
