// `npm start` supervises the services: a crashed one is started again with backoff, and
// `npm run service -- restart <name>` restarts one of a running stack (issue 19).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { deleteTopicsWithPrefix, stack, uniqueName, waitFor } from '@trellis/shared/testing';
import { paths } from '../local/config.ts';
import { freePort, serviceChildPid } from '../local/proc.ts';
import { dropStackDatabases } from '../../e2e/support/suite.ts';
import { CRASH_WINDOW_MS, CrashPolicy, MAX_CRASHES } from '../local/supervisor.ts';

const cli = join(paths.repo, 'infra', 'local', 'cli.ts');
const NAMES = ['gateway', 'identity', 'governance', 'work', 'collab', 'notify'] as const;

async function ready(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/health/ready`, { signal: AbortSignal.timeout(1_000) })).ok;
  } catch {
    return false;
  }
}

describe('the crash policy', () => {
  test(`delays double from 1 s; the ${MAX_CRASHES + 1}th crash in the window gives up; old crashes are forgotten`, () => {
    const policy = new CrashPolicy();
    const delays = Array.from({ length: MAX_CRASHES }, (_, i) => policy.crashed(i * 1_000));
    assert.deepEqual(delays, [1_000, 2_000, 4_000, 8_000, 16_000]);
    assert.equal(policy.crashed(MAX_CRASHES * 1_000), undefined);
    const later = new CrashPolicy();
    for (let i = 0; i < MAX_CRASHES; i += 1) later.crashed(i);
    assert.equal(later.crashed(CRASH_WINDOW_MS + 10), 1_000, 'crashes outside the window no longer count');
  });
});

describe('npm start supervises the services', () => {
  const prefix = uniqueName('sup').replace(/\W/g, '_');
  const topicPrefix = `${prefix}.`;
  let ports: Record<(typeof NAMES)[number], number>;
  let env: NodeJS.ProcessEnv;
  let start: ChildProcess;
  let output = '';

  before(async () => {
    ports = Object.fromEntries(
      await Promise.all(NAMES.map(async (n) => [n, await freePort()])),
    ) as typeof ports;
    env = {
      ...process.env,
      ...Object.fromEntries(NAMES.map((n) => [`${n.toUpperCase()}_PORT`, String(ports[n])])),
      TRELLIS_DB_PREFIX: prefix,
      KAFKA_TOPIC_PREFIX: topicPrefix,
      LOG_LEVEL: 'warn',
    };
    start = spawn(process.execPath, [cli, 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    start.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    start.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitFor(() => output.includes('Trellis is up') || start.exitCode !== null, {
      what: 'npm start to be up',
      timeoutMs: 120_000,
      intervalMs: 200,
    });
    assert.ok(output.includes(`gateway at http://127.0.0.1:${ports.gateway}`), output.slice(-3_000));
  });

  after(async () => {
    if (start && start.exitCode === null) {
      start.kill('SIGINT');
      await waitFor(() => start.exitCode !== null, { what: 'npm start to stop', timeoutMs: 30_000 });
    }
    await dropStackDatabases(prefix);
    await deleteTopicsWithPrefix(stack.kafkaBrokers, topicPrefix).catch(() => undefined);
  });

  test('work SIGKILLed → started again by itself, ready within 10 s; the others never stop', async () => {
    const pid = serviceChildPid(start.pid!, 'work');
    assert.ok(pid, 'the work process under npm start');
    const killedAt = performance.now();
    process.kill(pid, 'SIGKILL');
    await waitFor(
      async () => serviceChildPid(start.pid!, 'work') !== undefined && (await ready(ports.work)),
      {
        what: 'work to be back',
        timeoutMs: 30_000,
        intervalMs: 100,
      },
    );
    const back = (performance.now() - killedAt) / 1000;
    assert.ok(back <= 10, `work back after ${back.toFixed(1)} s`);
    assert.match(output, /work\s+exited \(SIGKILL\); starting it again in 1s/);
    for (const name of NAMES) assert.ok(await ready(ports[name]), `${name} ready`);
    assert.equal(start.exitCode, null, 'npm start still runs');
  });

  test('npm run service -- restart notify: a graceful restart, answered once ready', async () => {
    const before_ = serviceChildPid(start.pid!, 'notify');
    const restart = spawn(process.execPath, [cli, 'service', 'restart', 'notify'], { env, stdio: 'pipe' });
    let said = '';
    restart.stdout.on('data', (chunk: Buffer) => (said += chunk.toString()));
    restart.stderr.on('data', (chunk: Buffer) => (said += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => restart.once('close', resolve));
    assert.equal(code, 0, said);
    assert.match(said, /notify restarted and ready in/);
    assert.ok(await ready(ports.notify));
    assert.notEqual(serviceChildPid(start.pid!, 'notify'), before_, 'a new process');
    assert.doesNotMatch(output, /notify\s+exited/, 'a requested restart is not reported as a crash');

    const unknown = spawn(process.execPath, [cli, 'service', 'restart', 'nothing'], { env, stdio: 'pipe' });
    let refused = '';
    unknown.stderr.on('data', (chunk: Buffer) => (refused += chunk.toString()));
    assert.equal(await new Promise((resolve) => unknown.once('close', resolve)), 1);
    assert.match(refused, /unknown command/);
  });
});
