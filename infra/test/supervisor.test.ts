// `npm start` supervises the services: a crashed one is started again with backoff, and
// `npm run service -- restart <name>` restarts one of a running stack (issue 19).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '@trellis/shared/testing';
import { startNpmStart, type NpmStart } from '../../e2e/support/npm-start.ts';
import { SERVICES } from '../../e2e/support/suite.ts';
import { paths } from '../local/config.ts';
import { CRASH_WINDOW_MS, CrashPolicy, MAX_CRASHES } from '../local/supervisor.ts';

const cli = join(paths.repo, 'infra', 'local', 'cli.ts');

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
  let start: NpmStart;

  before(async () => {
    start = await startNpmStart();
    assert.ok(
      start.output().includes(`gateway at http://127.0.0.1:${start.ports.gateway}`),
      start.output().slice(-3_000),
    );
  });

  after(() => start?.stop());

  test('work SIGKILLed → started again by itself, ready within 10 s; the others never stop', async () => {
    const pid = start.pid('work');
    assert.ok(pid, 'the work process under npm start');
    const killedAt = performance.now();
    process.kill(pid, 'SIGKILL');
    await waitFor(async () => start.pid('work') !== undefined && (await start.ready('work')), {
      what: 'work to be back',
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    const back = (performance.now() - killedAt) / 1000;
    assert.ok(back <= 10, `work back after ${back.toFixed(1)} s`);
    assert.match(start.output(), /work\s+exited \(SIGKILL\); starting it again in 1s/);
    for (const name of SERVICES) assert.ok(await start.ready(name), `${name} ready`);
    assert.equal(start.process.exitCode, null, 'npm start still runs');
  });

  test('npm run service -- restart notify: a graceful restart, answered once ready', async () => {
    const before_ = start.pid('notify');
    const restart = spawn(process.execPath, [cli, 'service', 'restart', 'notify'], {
      env: start.env,
      stdio: 'pipe',
    });
    let said = '';
    restart.stdout.on('data', (chunk: Buffer) => (said += chunk.toString()));
    restart.stderr.on('data', (chunk: Buffer) => (said += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => restart.once('close', resolve));
    assert.equal(code, 0, said);
    assert.match(said, /notify restarted and ready in/);
    assert.ok(await start.ready('notify'));
    assert.notEqual(start.pid('notify'), before_, 'a new process');
    assert.doesNotMatch(start.output(), /notify\s+exited/, 'a requested restart is not reported as a crash');

    const unknown = spawn(process.execPath, [cli, 'service', 'restart', 'nothing'], {
      env: start.env,
      stdio: 'pipe',
    });
    let refused = '';
    unknown.stderr.on('data', (chunk: Buffer) => (refused += chunk.toString()));
    assert.equal(await new Promise((resolve) => unknown.once('close', resolve)), 1);
    assert.match(refused, /unknown command/);
  });
});
