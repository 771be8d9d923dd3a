// `go build` / `go install` for what the stack builds from the Go module proxy (FerretDB, promtool,
// Jaeger): -v names each package as it is compiled, a cheap progress counter; the whole output goes
// to `provision-<name>.log`, whose last lines a failure shows.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

import { paths } from './config.ts';
import { UserError, type Progress } from './log.ts';
import { run, tail } from './proc.ts';

export interface GoBuild {
  /** Names the log and the error. */
  name: string;
  /** After `go`: `['build', '-v', …]` or `['install', '-v', …]`. */
  args: string[];
  /** The file the build must leave behind. */
  output: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export async function goBuild(build: GoBuild, progress: Progress): Promise<void> {
  const buildLog = paths.log(`provision-${build.name}`);
  mkdirSync(dirname(buildLog), { recursive: true });
  const lines: string[] = [];
  let packages = 0;
  const code = await run('go', build.args, {
    ...(build.cwd ? { cwd: build.cwd } : {}),
    env: { ...process.env, GOFLAGS: '-buildvcs=false', ...build.env },
    onLine: (line) => {
      lines.push(line);
      if (line.startsWith('go: downloading')) progress(`downloading ${line.split(' ')[2] ?? ''}`);
      else progress(`${++packages} packages compiled`);
    },
  });
  writeFileSync(buildLog, `${lines.join('\n')}\n`);
  if (code !== 0 || !existsSync(build.output))
    throw new UserError(
      `go ${build.args[0]} of ${build.name} failed (exit ${code}); last lines of ${buildLog}:\n${tail(buildLog, 30)}`,
    );
}
