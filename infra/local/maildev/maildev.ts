// MailDev (npm): catches the services' SMTP mail and shows it over HTTP.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import type { Component } from '../component.ts';
import { endpoints, paths, ports } from '../config.ts';
import { spawnDaemon } from '../proc.ts';

const bin = join(paths.repo, 'node_modules', 'maildev', 'bin', 'maildev');
const mailDir = paths.data('maildev');

async function start(): Promise<number> {
  return spawnDaemon({
    command: process.execPath,
    args: [
      bin,
      ...['--smtp', String(ports.smtp), '--web', String(ports.maildevHttp)],
      ...['--ip', '127.0.0.1', '--mail-directory', mailDir],
    ],
    log: paths.log('maildev'),
  });
}

async function ready(): Promise<boolean> {
  try {
    const response = await fetch(`${endpoints.maildevUrl}/email`, { signal: AbortSignal.timeout(1_000) });
    return response.status === 200;
  } catch {
    return false;
  }
}

export const maildev: Component = {
  name: 'maildev',
  ports: [
    { port: ports.smtp, env: 'SMTP_PORT', label: 'smtp' },
    { port: ports.maildevHttp, env: 'MAILDEV_HTTP_PORT', label: 'http' },
  ],
  marker: mailDir,
  readyTimeoutMs: 20_000,
  stopTimeoutMs: 10_000,
  isProvisioned: () => existsSync(bin),
  provision: async () => {
    throw new Error(`MailDev is missing at ${bin}: run npm install`);
  },
  start,
  ready,
};
