// FerretDB v1.24.0 (MongoDB wire protocol on SQLite), built with `go` from the
// wrapper program in this folder into the cache.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import mongoose from 'mongoose';

import { buildIntoCache, cachePath } from '../cache.ts';
import type { Component } from '../component.ts';
import { endpoints, external, paths, ports, redact } from '../config.ts';
import { UserError, type Progress } from '../log.ts';
import { run, spawnDaemon, tail } from '../proc.ts';

/** FerretDB's version, then the wrapper's revision: bump `-w<n>` whenever a file of the wrapper changes. */
const CACHE_ENTRY = 'ferretdb-1.24.0-w6';
const binary = cachePath(CACHE_ENTRY, 'ferretdb');
const dataDir = paths.data('ferretdb');

async function provision(progress: Progress): Promise<void> {
  console.log('  go  │ building FerretDB (about a minute on 2 cores)…');
  const buildLog = paths.log('provision-ferretdb');
  // Not left to Kafka's provisioning, which skips everything when its jars are cached.
  mkdirSync(dirname(buildLog), { recursive: true });
  const lines: string[] = [];
  let packages = 0;
  await buildIntoCache(CACHE_ENTRY, async (dir) => {
    // -v names each package as it is compiled: a cheap progress counter.
    const code = await run('go', ['build', '-v', '-o', join(dir, 'ferretdb'), '.'], {
      cwd: import.meta.dirname,
      onLine: (line) => {
        lines.push(line);
        if (line.startsWith('go: downloading')) progress(`downloading ${line.split(' ')[2] ?? ''}`);
        else progress(`${++packages} packages compiled`);
      },
    });
    writeFileSync(buildLog, `${lines.join('\n')}\n`);
    if (code !== 0) {
      throw new UserError(
        `go build failed (exit ${code}); last lines of ${buildLog}:\n${tail(buildLog, 30)}`,
      );
    }
  });
}

async function start(): Promise<number> {
  return spawnDaemon({
    command: binary,
    args: ['-listen', `127.0.0.1:${ports.mongo}`, '-data', dataDir, '-log-level', 'error'],
    log: paths.log('ferretdb'),
  });
}

async function ready(): Promise<boolean> {
  const client = new mongoose.mongo.MongoClient(endpoints.mongoUrl, {
    serverSelectionTimeoutMS: 1_000,
    connectTimeoutMS: 1_000,
  });
  try {
    await client.db('admin').command({ ping: 1 });
    return true;
  } catch {
    return false;
  } finally {
    await client.close().catch(() => undefined);
  }
}

export const ferretdb: Component = {
  name: 'ferretdb',
  external: external.mongoUrl && `MONGO_URL=${redact(external.mongoUrl)}`,
  externalEnv: 'MONGO_URL',
  ports: [{ port: ports.mongo, env: 'MONGO_PORT' }],
  marker: dataDir,
  readyTimeoutMs: 30_000,
  stopTimeoutMs: 10_000,
  isProvisioned: () => existsSync(binary),
  provision,
  start,
  ready,
};
