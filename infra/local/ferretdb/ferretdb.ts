// FerretDB v1.24.0 (MongoDB wire protocol on PostgreSQL), built with `go` from the
// wrapper program in this folder into the cache. It keeps its data in the database
// `ferretdb` of the stack's PostgreSQL (or of the server DATABASE_URL names).
import { existsSync } from 'node:fs';

import mongoose from 'mongoose';

import { cachePath } from '../cache.ts';
import type { Component } from '../component.ts';
import { endpoints, external, paths, ports, redact } from '../config.ts';
import { goBuild } from '../go.ts';
import { UserError, type Progress } from '../log.ts';
import { ensureDatabases, postgres } from '../postgres/postgres.ts';
import { spawnDaemon, waitUntil } from '../proc.ts';
import { withDatabase } from '../services.ts';

/** FerretDB's version, then the wrapper's revision: bump `-w<n>` whenever a file of the wrapper changes. */
const CACHE_ENTRY = 'ferretdb-1.24.0-w13';
const binary = cachePath(CACHE_ENTRY, 'ferretdb');
const listen = `127.0.0.1:${ports.mongo}`;
/** On the daemon's command line, so that `stack:status`/`down` know it from another stack's FerretDB. */
const stackMarker = paths.data('ferretdb');
const DATABASE = 'ferretdb';

/**
 * FerretDB's PostgreSQL URL. It names each filter's field as a query parameter
 * (`_jsonb -> $1 @> $2`); a generic plan cannot match that to an index on
 * `_jsonb -> 'field'`, so every statement is planned with its values. The pool
 * (pgx's default: 4 connections on this machine) would queue the operations of
 * every consumer lane and request of collab and notify behind four.
 */
function backendUrl(): string {
  const url = new URL(withDatabase(endpoints.databaseUrl, DATABASE));
  url.searchParams.set('plan_cache_mode', 'force_custom_plan');
  url.searchParams.set('pool_max_conns', '32');
  // The stack's PostgreSQL has no TLS; pgx would try it first on every new connection.
  if (!external.databaseUrl) url.searchParams.set('sslmode', 'disable');
  return url.toString();
}

const provision = (progress: Progress): Promise<void> =>
  goBuild(
    {
      name: 'ferretdb',
      entry: CACHE_ENTRY,
      announce: 'building FerretDB (about a minute on 2 cores)…',
      mode: 'build',
      target: '.',
      cwd: import.meta.dirname,
    },
    progress,
  );

async function start(progress: Progress): Promise<number> {
  // The components start side by side; this one needs PostgreSQL first.
  progress('waiting for PostgreSQL');
  if (!(await waitUntil(() => postgres.ready(), postgres.readyTimeoutMs + 30_000, 250))) {
    throw new UserError('FerretDB keeps its data in PostgreSQL, which did not answer');
  }
  await ensureDatabases([DATABASE]);
  return spawnDaemon({
    command: binary,
    args: ['-listen', listen, '-stack', stackMarker, '-log-level', 'error'],
    // Not on the command line, which `ps` and the log's header show: it may hold a password.
    env: { ...process.env, FERRETDB_POSTGRESQL_URL: backendUrl() },
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
  marker: stackMarker,
  readyTimeoutMs: 30_000,
  stopTimeoutMs: 10_000,
  isProvisioned: () => existsSync(binary),
  provision,
  start,
  ready,
};
