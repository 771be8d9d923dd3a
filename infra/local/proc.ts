// Process plumbing: daemons with pid files, foreground commands with line
// output, port probes and polling.
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

import { paths } from './config.ts';
import { UserError } from './log.ts';

export interface RunAs {
  uid?: number;
  gid?: number;
}

export function readPid(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

export function writePid(file: string, pid: number): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${pid}\n`);
}

export function removePid(file: string): void {
  rmSync(file, { force: true });
}

/** True when a process of that pid exists (whatever it is: see `isAlive` for ours). */
export function pidRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * True when `pid` runs and its command line contains `marker` (a path under
 * TRELLIS_HOME), so a recycled pid or a zombie is never mistaken for ours.
 */
export function isAlive(pid: number, marker: string): boolean {
  if (!pidRunning(pid)) return false;
  if (!existsSync('/proc')) return true; // no procfs (macOS): trust the signal probe
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').includes(marker);
  } catch {
    return false;
  }
}

/** Finds our daemon by its command line when its pid file is lost (Linux only). */
export function findProcess(marker: string): number | undefined {
  if (!existsSync('/proc')) return undefined;
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (Number.isInteger(pid) && pid !== process.pid && isAlive(pid, marker)) return pid;
  }
  return undefined;
}

/** Signals a daemon's whole process group (it leads one), then the pid itself. */
function signal(pid: number, name: NodeJS.Signals): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, name);
    } catch {
      // already gone
    }
  }
}

export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 200,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}

/** SIGTERM, wait up to `timeoutMs`, then SIGKILL; the group is always swept. */
export async function terminate(pid: number, marker: string, timeoutMs: number): Promise<void> {
  signal(pid, 'SIGTERM');
  if (!(await waitUntil(() => !isAlive(pid, marker), timeoutMs))) {
    signal(pid, 'SIGKILL');
    await waitUntil(() => !isAlive(pid, marker), 5_000);
  }
  // Sweep helpers the leader may have left in its group.
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // group already empty
  }
}

export interface DaemonOptions extends RunAs {
  command: string;
  args: string[];
  log: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts a process that outlives the CLI: own process group (so Ctrl-C in
 * the terminal does not reach it), output appended to its log file.
 */
export function spawnDaemon(options: DaemonOptions): number {
  mkdirSync(dirname(options.log), { recursive: true });
  const fd = openSync(options.log, 'a');
  try {
    writeFileSync(fd, `\n=== ${new Date().toISOString()} ${options.command} ${options.args.join(' ')}\n`);
    const child = spawn(options.command, options.args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      cwd: options.cwd,
      env: options.env,
      uid: options.uid,
      gid: options.gid,
    });
    child.on('error', () => undefined); // reported below through the missing pid
    if (child.pid === undefined) throw new UserError(`cannot start ${options.command}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

export interface RunOptions extends RunAs {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Receives every stdout and stderr line. */
  onLine?: (line: string) => void;
}

/** Runs a command to completion and resolves with its exit code. */
export function run(command: string, args: string[], options: RunOptions = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: options.cwd,
      env: options.env,
      uid: options.uid,
      gid: options.gid,
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'ENOENT' ? new UserError(`\`${command}\` is not installed or not on PATH`) : error,
      );
    });
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => options.onLine?.(line));
    }
    child.on('close', (code) => resolve(code ?? 1));
  });
}

/** True when something already listens on 127.0.0.1:`port` (or on all interfaces). */
export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(true));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      server.close(() => resolve(false));
    });
  });
}

/** A port nothing listens on now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export function tail(file: string, lines = 20): string {
  if (!existsSync(file)) return `(no log at ${file})`;
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/** The pids whose parent is `parent` (Linux: /proc). */
export function childPids(parent: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may hold spaces, so split after ") ".
      const ppid = Number(readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]);
      if (ppid === parent) children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

/** The process of a service under `npm start` (pid `parent`): its child running in services/<name>. */
export function serviceChildPid(parent: number, name: string): number | undefined {
  const folder = join(paths.repo, 'services', name);
  return childPids(parent).find((pid) => {
    try {
      return readlinkSync(`/proc/${pid}/cwd`) === folder;
    } catch {
      return false;
    }
  });
}
