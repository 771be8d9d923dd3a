// The heavy, version-keyed cache outside the clone (TRELLIS_CACHE). Builds go
// to a temp dir renamed into place at the end, so an interrupted build never
// leaves a half-filled entry that later runs would trust.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { paths } from './config.ts';
import { pidRunning } from './proc.ts';

export function cachePath(entry: string, ...rest: string[]): string {
  return join(paths.cache, entry, ...rest);
}

/** Temp dirs of builds whose process died (Ctrl-C, crash). */
function removeAbandonedBuilds(entry: string): void {
  for (const name of readdirSync(paths.cache)) {
    const match = name.startsWith(`${entry}.tmp-`) && /\.tmp-(\d+)$/.exec(name);
    if (match && !pidRunning(Number(match[1]))) {
      rmSync(join(paths.cache, name), { recursive: true, force: true });
    }
  }
}

/** Runs `build` into a fresh temp dir, then publishes it as cache entry `entry`. */
export async function buildIntoCache(entry: string, build: (dir: string) => Promise<void>): Promise<void> {
  mkdirSync(paths.cache, { recursive: true });
  removeAbandonedBuilds(entry);
  const target = cachePath(entry);
  const temp = `${target}.tmp-${process.pid}`;
  rmSync(temp, { recursive: true, force: true });
  mkdirSync(temp, { recursive: true });
  try {
    await build(temp);
    if (!existsSync(target)) renameSync(temp, target); // else a concurrent build won
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}
