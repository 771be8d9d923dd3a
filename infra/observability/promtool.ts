// promtool (Prometheus's rule checker), built with `go` from the Go module proxy into the cache the
// way infra/local/ builds FerretDB: once per machine, version-keyed, in a temp dir renamed into place.
// `npm run stack:provision` builds it (CI); the observability test builds it if it is still missing.
import { existsSync } from 'node:fs';

import { cachePath } from '../local/cache.ts';
import { goBuild } from '../local/go.ts';
import { step, type Progress } from '../local/log.ts';

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
export const provisionPromtool = (progress: Progress): Promise<void> =>
  goBuild(
    {
      name: 'promtool',
      entry: CACHE_ENTRY,
      announce: 'building promtool (a few minutes on 2 cores, once per machine)…',
      mode: 'install',
      target: `github.com/prometheus/prometheus/cmd/promtool@${PROMETHEUS_MODULE_VERSION}`,
      tags: ['remove_all_sd'],
    },
    progress,
  );

/** The path of promtool, built first (with progress) when this machine has none yet. */
export async function ensurePromtool(): Promise<string> {
  if (!isPromtoolProvisioned()) await step('provision promtool', provisionPromtool);
  return promtoolPath;
}
