import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import {
  deleteTopicsWithPrefix,
  stack,
  TEST_TOPIC_PARTITIONS,
  uniqueName,
  waitFor,
} from '@trellis/shared/testing';
import { freePort, serviceChildPid } from '../../infra/local/proc.ts';
import { dropStackDatabases, SERVICES, type ServiceName } from './suite.ts';

const cli = join(import.meta.dirname, '..', '..', 'infra', 'local', 'cli.ts');

export interface NpmStart {
  process: ChildProcess;
  ports: Record<ServiceName, number>;
  /** Its env: what `npm run service` needs to find this one (GATEWAY_PORT …). */
  env: NodeJS.ProcessEnv;
  /** Everything it printed so far. */
  output: () => string;
  /** The service's process under it, if running. */
  pid: (name: ServiceName) => number | undefined;
  ready: (name: ServiceName) => Promise<boolean>;
  /** Ctrl-C, then its databases and topics dropped. */
  stop: () => Promise<void>;
}

/**
 * `npm start` exactly as a user runs it (supervised), beside any other: free ports, databases named
 * `<prefix>_<service>` (TRELLIS_DB_PREFIX) and its own topic prefix. Resolves once it says it is up.
 */
export async function startNpmStart(
  options: { env?: Record<string, string>; onOutput?: (chunk: string) => void } = {},
): Promise<NpmStart> {
  const ports = Object.fromEntries(
    await Promise.all(SERVICES.map(async (name) => [name, await freePort()])),
  ) as Record<ServiceName, number>;
  const prefix = uniqueName('start').replace(/\W/g, '_');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...Object.fromEntries(SERVICES.map((name) => [`${name.toUpperCase()}_PORT`, String(ports[name])])),
    GATEWAY_METRICS_PORT: String(await freePort()),
    TRELLIS_DB_PREFIX: prefix,
    KAFKA_TOPIC_PREFIX: `${prefix}.`,
    KAFKA_TOPIC_PARTITIONS: String(TEST_TOPIC_PARTITIONS),
    LOG_LEVEL: 'warn',
    ...options.env,
  };
  const child = spawn(process.execPath, [cli, 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  for (const stream of [child.stdout, child.stderr])
    stream.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      options.onOutput?.(chunk.toString());
    });
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGINT');
      await waitFor(() => child.exitCode !== null, { what: 'npm start to stop', timeoutMs: 30_000 }).catch(
        () => child.kill('SIGKILL'),
      );
    }
    await dropStackDatabases(prefix);
    await deleteTopicsWithPrefix(stack.kafkaBrokers, `${prefix}.`).catch(() => undefined);
  };
  await waitFor(() => output.includes('Trellis is up') || child.exitCode !== null, {
    what: 'npm start to be up',
    timeoutMs: 120_000,
    intervalMs: 200,
  });
  if (child.exitCode !== null) {
    await stop();
    throw new Error(`npm start failed:\n${output.slice(-3_000)}`);
  }
  return {
    process: child,
    ports,
    env,
    output: () => output,
    pid: (name) => serviceChildPid(child.pid!, name),
    ready: (name) =>
      fetch(`http://127.0.0.1:${ports[name]}/health/ready`, { signal: AbortSignal.timeout(1_000) }).then(
        (res) => res.ok,
        () => false,
      ),
    stop,
  };
}
