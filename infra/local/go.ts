// What the stack builds with `go` from the Go module proxy (FerretDB, promtool, Jaeger), built into
// the cache (cache.ts: a temp dir renamed into place). -v names each package as it is compiled, a
// cheap progress counter; the whole output goes to `provision-<name>.log`, whose last lines a
// failure shows.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { buildIntoCache } from './cache.ts';
import { paths } from './config.ts';
import { UserError, type Progress } from './log.ts';
import { run, tail } from './proc.ts';

export interface GoBuild {
  /** The binary's name: `<cache entry>/<name>`; it also names the log. */
  name: string;
  /** The cache entry (version-keyed). */
  entry: string;
  /** Printed before the build: what it is and how long it takes. */
  announce: string;
  /**
   * `build`: the package `target` of the module in `cwd` (its go.mod pins the versions);
   * `install`: `target` is `<package>@<version>`, no module needed.
   */
  mode: 'build' | 'install';
  target: string;
  cwd?: string;
  tags?: string[];
}

export async function goBuild(build: GoBuild, progress: Progress): Promise<void> {
  console.log(`  go  │ ${build.announce}`);
  const buildLog = paths.log(`provision-${build.name}`);
  mkdirSync(dirname(buildLog), { recursive: true });
  await buildIntoCache(build.entry, async (dir) => {
    const output = join(dir, build.name);
    const tags = build.tags ? ['-tags', build.tags.join(',')] : [];
    const args =
      build.mode === 'build'
        ? ['build', '-v', ...tags, '-o', output, build.target]
        : ['install', '-v', ...tags, build.target];
    const lines: string[] = [];
    let packages = 0;
    const code = await run('go', args, {
      ...(build.cwd ? { cwd: build.cwd } : {}),
      env: {
        ...process.env,
        GOFLAGS: '-buildvcs=false',
        ...(build.mode === 'install' ? { GOBIN: dir } : {}),
      },
      onLine: (line) => {
        lines.push(line);
        if (line.startsWith('go: downloading')) progress(`downloading ${line.split(' ')[2] ?? ''}`);
        else progress(`${++packages} packages compiled`);
      },
    });
    writeFileSync(buildLog, `${lines.join('\n')}\n`);
    if (code !== 0 || !existsSync(output))
      throw new UserError(
        `go ${build.mode} of ${build.name} failed (exit ${code}); last lines of ${buildLog}:\n${tail(buildLog, 30)}`,
      );
  });
}
