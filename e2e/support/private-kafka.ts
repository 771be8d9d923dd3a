import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@trellis/shared/testing';
import { brokerAnswers, startBroker } from '../../infra/local/kafka/kafka.ts';
import { freePort, pidRunning } from '../../infra/local/proc.ts';

export interface PrivateKafka {
  brokers: string[];
  /** SIGKILL: a crash, not a shutdown. */
  kill: () => Promise<void>;
  /** Starts it again on the same ports and data, and waits until it answers. */
  start: () => Promise<void>;
  close: () => Promise<void>;
}

/**
 * A single-node Kafka of the test's own, from the stack's cached jars, on free ports and a temporary
 * directory: a test can crash it without disturbing the other suites that share the stack's broker.
 */
export async function startPrivateKafka(): Promise<PrivateKafka> {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-kafka-'));
  const layout = {
    dataDir: join(dir, 'data'),
    configDir: join(dir, 'config'),
    log: join(dir, 'kafka.log'),
    port: await freePort(),
    controllerPort: await freePort(),
    heap: '384m',
  };
  const brokers = [`127.0.0.1:${layout.port}`];
  let pid: number | undefined;
  // A test that dies early must not leave a JVM behind.
  const reap = () => pid !== undefined && pidRunning(pid) && process.kill(pid, 'SIGKILL');
  process.once('exit', reap);

  const kill = async () => {
    if (pid === undefined) return;
    const stopping = pid;
    process.kill(stopping, 'SIGKILL');
    await waitFor(async () => !pidRunning(stopping), { what: 'the private broker to die', intervalMs: 50 });
    pid = undefined;
  };
  const start = async () => {
    pid = await startBroker(layout, () => undefined);
    await waitFor(() => brokerAnswers(brokers), {
      what: `the private broker on ${brokers[0]}`,
      timeoutMs: 90_000,
      intervalMs: 500,
    });
  };
  await start();
  return {
    brokers,
    kill,
    start,
    close: async () => {
      await kill();
      process.off('exit', reap);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
