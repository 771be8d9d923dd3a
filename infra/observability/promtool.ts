// promtool (Prometheus's rule checker), built with `go` from the Go module proxy into the cache the
// way infra/local/ builds FerretDB: once per machine, version-keyed, in a temp dir renamed into place.
// `npm run stack:provision` builds it (CI); the observability test builds it if it is still missing.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { buildIntoCache, cachePath } from '../local/cache.ts';
import { paths } from '../local/config.ts';
import { step, UserError, type Progress } from '../local/log.ts';
import { run, tail } from '../local/proc.ts';

/** The Go module version of github.com/prometheus/prometheus (v0.316.0 is Prometheus 3.16.0's). */
export const PROMETHEUS_MODULE_VERSION = 'v0.316.0';
/** Bump `-b<n>` whenever the build below changes. */
const CACHE_ENTRY = `promtool-${PROMETHEUS_MODULE_VERSION.slice(1)}-b1`;

export const promtoolPath = cachePath(CACHE_ENTRY, 'promtool');

export const isPromtoolProvisioned = (): boolean => existsSync(promtoolPath);

/**
 * `go install` of promtool at the pinned version. `remove_all_sd` leaves out the service-discovery
 * plugins (AWS, Azure, GCE, …) that rule checks never use: a third of the build. Still a few minutes
 * on 2 cores the first time (the Kubernetes client, which promtool imports itself, is most of it).
 */
export async function provisionPromtool(progress: Progress): Promise<void> {
  console.log('  go  │ building promtool (a few minutes on 2 cores, once per machine)…');
  const buildLog = paths.log('provision-promtool');
  mkdirSync(dirname(buildLog), { recursive: true });
  const lines: string[] = [];
  let packages = 0;
  await buildIntoCache(CACHE_ENTRY, async (dir) => {
    const module = `github.com/prometheus/prometheus/cmd/promtool@${PROMETHEUS_MODULE_VERSION}`;
    const code = await run('go', ['install', '-v', '-tags', 'remove_all_sd', module], {
      env: { ...process.env, GOBIN: dir, GOFLAGS: '-buildvcs=false' },
      // -v names each package as it is compiled: a cheap progress counter.
      onLine: (line) => {
        lines.push(line);
        if (line.startsWith('go: downloading')) progress(`downloading ${line.split(' ')[2] ?? ''}`);
        else progress(`${++packages} packages compiled`);
      },
    });
    writeFileSync(buildLog, `${lines.join('\n')}\n`);
    if (code !== 0 || !existsSync(join(dir, 'promtool')))
      throw new UserError(
        `go install promtool failed (exit ${code}); last lines of ${buildLog}:\n${tail(buildLog, 30)}`,
      );
  });
}

/** The path of promtool, built first (with progress) when this machine has none yet. */
export async function ensurePromtool(): Promise<string> {
  if (!isPromtoolProvisioned()) await step('provision promtool', provisionPromtool);
  return promtoolPath;
}
