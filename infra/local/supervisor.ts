// The services' supervisor under `npm start`: a service that exits is started again with backoff
// (and given up on loudly after repeated crashes), and `npm run service -- restart <name>` asks,
// over a Unix socket in .trellis/run, for one service to be restarted gracefully.
import { mkdirSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';

import { paths } from './config.ts';
import { UserError } from './log.ts';
import { services } from './services.ts';

/** Crashes allowed within CRASH_WINDOW_MS before the supervisor gives up and stops everything. */
export const MAX_CRASHES = 5;
export const CRASH_WINDOW_MS = 5 * 60_000;
const FIRST_DELAY_MS = 1_000;
const MAX_DELAY_MS = 30_000;

/** One per stack: a second `npm start` on other ports (GATEWAY_PORT …) has its own. */
const gatewayPort = services.find(({ name }) => name === 'gateway')?.port ?? 8080;
export const controlSocket = join(paths.home, 'run', `supervisor-${gatewayPort}.sock`);

/**
 * One service's crash record: when to start it again, or that it is time to give up.
 * The delay doubles with every crash in the window (1 s, 2 s, 4 s … 30 s at most).
 */
export class CrashPolicy {
  private crashes: number[] = [];

  /** Records a crash at `now`; the delay before the next start, or undefined to give up. */
  crashed(now: number): number | undefined {
    this.crashes = [...this.crashes.filter((at) => now - at < CRASH_WINDOW_MS), now];
    if (this.crashes.length > MAX_CRASHES) return undefined;
    return Math.min(FIRST_DELAY_MS * 2 ** (this.crashes.length - 1), MAX_DELAY_MS);
  }

  /** Crashes counted in the window, for the message. */
  get recent(): number {
    return this.crashes.length;
  }
}

/**
 * Listens for one-line commands (`restart <name>`) and answers one line: `ok …` or `error …`.
 * A stale socket file (a supervisor that died) is replaced.
 */
export async function listenForCommands(handle: (command: string) => Promise<string>): Promise<Server> {
  mkdirSync(join(paths.home, 'run'), { recursive: true });
  if (await supervisorAnswers())
    throw new UserError(`another npm start already runs here (${controlSocket})`);
  rmSync(controlSocket, { force: true });
  const server = createServer((socket) => {
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const newline = buffer.indexOf('\n');
      if (newline < 0) return;
      const command = buffer.slice(0, newline).trim();
      handle(command)
        .then((answer) => `ok ${answer}`)
        .catch((error: unknown) => `error ${(error as Error).message}`)
        .then((line) => socket.end(`${line}\n`));
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(controlSocket, resolve);
  });
  server.unref();
  return server;
}

async function supervisorAnswers(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(controlSocket);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Sends one command to the running `npm start` and resolves with its answer. */
export function sendCommand(command: string, timeoutMs = 90_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(controlSocket);
    let answer = '';
    socket.setEncoding('utf8');
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer within ${timeoutMs / 1000}s`)));
    socket.once('connect', () => socket.write(`${command}\n`));
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.once('end', () => {
      const line = answer.trim();
      if (line.startsWith('ok ')) resolve(line.slice(3));
      else reject(new UserError(line.replace(/^error /, '') || 'no answer'));
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED')
        reject(new UserError('no `npm start` is running in this clone'));
      else reject(error);
    });
  });
}
