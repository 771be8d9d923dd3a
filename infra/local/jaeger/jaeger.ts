// Jaeger v1.75.0 — its v2 binary (`cmd/jaeger`, built on the OpenTelemetry Collector) — built with
// `go` from the Go module proxy into the cache, like FerretDB. It receives OTLP over HTTP and keeps
// spans in memory: the trace backend of `npm start -- --tracing` and of the tracing e2e test.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { cachePath } from '../cache.ts';
import type { Component } from '../component.ts';
import { endpoints, paths, ports } from '../config.ts';
import { goBuild } from '../go.ts';
import { step, type Progress } from '../log.ts';
import { spawnDaemon } from '../proc.ts';

/** Jaeger's version, then the build's revision: bump `-b<n>` whenever go.mod or the build changes. */
const CACHE_ENTRY = 'jaeger-1.75.0-b1';
const binary = cachePath(CACHE_ENTRY, 'jaeger');
/** The stack's Jaeger runs with its config copied here: on its command line, the path tells it apart. */
const stackDir = paths.config('jaeger');

export const isJaegerProvisioned = (): boolean => existsSync(binary);

const provision = (progress: Progress): Promise<void> =>
  goBuild(
    {
      name: 'jaeger',
      entry: CACHE_ENTRY,
      announce: 'building Jaeger (several minutes on 2 cores, once per machine)…',
      // About 2 300 packages; the Go build cache makes a rebuild a matter of seconds.
      mode: 'build',
      target: 'github.com/jaegertracing/jaeger/cmd/jaeger',
      cwd: import.meta.dirname,
    },
    progress,
  );

/** Builds Jaeger first (with progress) when this machine has none yet. */
export async function ensureJaeger(): Promise<void> {
  if (!isJaegerProvisioned()) await step('provision jaeger', provision);
}

export interface JaegerLayout {
  otlpPort: number;
  uiPort: number;
  grpcPort: number;
  log: string;
  /** Its config is copied here, so the directory is on its command line (see `Component.marker`). */
  dir: string;
}

/** Spawns Jaeger on the layout's ports and returns its pid; `jaegerAnswers` tells when it is up. */
export function spawnJaeger(layout: JaegerLayout): number {
  mkdirSync(layout.dir, { recursive: true });
  const config = join(layout.dir, 'config.yaml');
  copyFileSync(join(import.meta.dirname, 'config.yaml'), config);
  return spawnDaemon({
    command: binary,
    args: ['--config', config],
    env: {
      ...process.env,
      JAEGER_OTLP_ENDPOINT: `127.0.0.1:${layout.otlpPort}`,
      JAEGER_UI_ENDPOINT: `127.0.0.1:${layout.uiPort}`,
      JAEGER_GRPC_ENDPOINT: `127.0.0.1:${layout.grpcPort}`,
    },
    log: layout.log,
  });
}

/** Jaeger's query API answers (the UI and `/api/*` share its HTTP port). */
export async function jaegerAnswers(uiUrl: string): Promise<boolean> {
  try {
    const response = await fetch(`${uiUrl}/api/services`, { signal: AbortSignal.timeout(1_000) });
    return response.ok;
  } catch {
    return false;
  }
}

export const jaeger: Component = {
  name: 'jaeger',
  ports: [
    { port: ports.jaegerOtlp, env: 'JAEGER_OTLP_PORT', label: 'OTLP/HTTP' },
    { port: ports.jaegerUi, env: 'JAEGER_UI_PORT', label: 'UI' },
    { port: ports.jaegerGrpc, env: 'JAEGER_GRPC_PORT', label: 'query gRPC' },
  ],
  marker: stackDir,
  readyTimeoutMs: 30_000,
  stopTimeoutMs: 10_000,
  isProvisioned: isJaegerProvisioned,
  provision,
  start: async () =>
    spawnJaeger({
      otlpPort: ports.jaegerOtlp,
      uiPort: ports.jaegerUi,
      grpcPort: ports.jaegerGrpc,
      log: paths.log('jaeger'),
      dir: stackDir,
    }),
  ready: () => jaegerAnswers(endpoints.jaegerUrl),
};
