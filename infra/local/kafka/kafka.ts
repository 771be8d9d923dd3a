// Apache Kafka 3.9.1 as a single KRaft node (broker + controller in one JVM),
// from jars that Maven resolves into the cache.
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { Kafka, logLevel } from 'kafkajs';

import { buildIntoCache, cachePath } from '../cache.ts';
import type { Component } from '../component.ts';
import { endpoints, env, external, paths, ports } from '../config.ts';
import { UserError, type Progress } from '../log.ts';
import { run, spawnDaemon, tail } from '../proc.ts';

const CACHE_ENTRY = 'kafka-3.9.1';
const libs = cachePath(CACHE_ENTRY, 'libs');
const dataDir = paths.data('kafka');
const configDir = paths.config('kafka');
const serverProperties = join(configDir, 'server.properties');
const log = paths.log('kafka');

async function provision(progress: Progress): Promise<void> {
  const pom = join(import.meta.dirname, 'pom.xml');
  const mvnLog = paths.log('provision-kafka');
  mkdirSync(join(paths.home, 'logs'), { recursive: true });
  writeFileSync(mvnLog, '');
  let downloaded = 0;
  await buildIntoCache(CACHE_ENTRY, async (dir) => {
    const code = await run(
      'mvn',
      [
        '-B',
        '-f',
        pom,
        'dependency:copy-dependencies',
        `-DoutputDirectory=${join(dir, 'libs')}`,
        '-DincludeScope=runtime',
      ],
      {
        onLine: (line) => {
          appendFileSync(mvnLog, `${line}\n`);
          if (line.includes('Downloaded from')) progress(`${++downloaded} artifacts downloaded`);
          // One line per Maven phase/plugin and the verdict; the rest goes to the log.
          if (/ --- |BUILD|ERROR|Total time/.test(line)) console.log(`  mvn │ ${line}`);
        },
      },
    );
    if (code !== 0) {
      throw new UserError(`mvn failed (exit ${code}); last lines of ${mvnLog}:\n${tail(mvnLog, 30)}`);
    }
  });
}

/** A Kafka cluster id: 16 random bytes, base64url; Kafka itself avoids a leading '-'. */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** Where a broker keeps its data, config and log, and the ports it listens on. */
export interface BrokerLayout {
  dataDir: string;
  configDir: string;
  log: string;
  port: number;
  controllerPort: number;
  /** -Xms = -Xmx. */
  heap: string;
}

const stackBroker: BrokerLayout = {
  dataDir,
  configDir,
  log,
  port: ports.kafka,
  controllerPort: ports.kafkaController,
  heap: env('KAFKA_HEAP') ?? '1536m',
};

function writeConfig(broker: BrokerLayout): void {
  const { configDir } = broker;
  mkdirSync(configDir, { recursive: true });
  const server = {
    'process.roles': 'broker,controller',
    'node.id': '1',
    'controller.quorum.voters': `1@127.0.0.1:${broker.controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${broker.port},CONTROLLER://127.0.0.1:${broker.controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${broker.port}`,
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': broker.dataDir,
    'num.partitions': '3',
    'offsets.topic.replication.factor': '1',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    // Consumers in tests join a fresh group each run: don't make them wait 3 s.
    'group.initial.rebalance.delay.ms': '0',
    'auto.create.topics.enable': 'true',
  };
  writeFileSync(
    join(configDir, 'server.properties'),
    Object.entries(server)
      .map(([key, value]) => `${key}=${value}\n`)
      .join(''),
  );
  // WARN keeps the log small; KafkaRaftServer at INFO still says "started" and "shut down".
  writeFileSync(
    join(configDir, 'log4j.properties'),
    [
      'log4j.rootLogger=WARN, stdout',
      'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
      'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
      'log4j.logger.kafka.server.KafkaRaftServer=INFO',
      '',
    ].join('\n'),
  );
}

function javaClasspath(broker: BrokerLayout): string[] {
  return ['-cp', `${libs}/*`, `-Dlog4j.configuration=file:${join(broker.configDir, 'log4j.properties')}`];
}

/** KRaft needs its storage formatted once with a cluster id before the first start. */
async function formatStorage(broker: BrokerLayout, progress: Progress): Promise<void> {
  const { dataDir, log } = broker;
  if (existsSync(join(dataDir, 'meta.properties'))) return;
  progress('formatting storage');
  mkdirSync(dataDir, { recursive: true });
  const output: string[] = [];
  const code = await run(
    'java',
    [
      ...javaClasspath(broker),
      'kafka.tools.StorageTool',
      'format',
      '-t',
      clusterId(),
      '-c',
      join(broker.configDir, 'server.properties'),
    ],
    { onLine: (line) => output.push(line) },
  );
  appendFileSync(log, `${output.join('\n')}\n`);
  if (code !== 0) throw new UserError(`Kafka storage format failed:\n${output.join('\n')}`);
}

/** As in Kafka 3.9's kafka-run-class.sh (KAFKA_JVM_PERFORMANCE_OPTS), `-server` aside. */
const KAFKA_JVM_PERFORMANCE_OPTS = [
  '-XX:+UseG1GC',
  '-XX:MaxGCPauseMillis=20',
  '-XX:InitiatingHeapOccupancyPercent=35',
  '-XX:+ExplicitGCInvokesConcurrent',
  '-XX:MaxInlineLevel=15',
];

/**
 * The broker's JIT compilers: C1 alone unless `KAFKA_JIT=c2` (the JVM's default: C1, then C2 for
 * the hottest code). On the 2-core development machine, which also runs PostgreSQL, FerretDB, the
 * six services and the load generator, C2 was still compiling minutes after start-up, in bursts of
 * 60–75 % of a core lasting up to half a second; the requests and events in flight queued behind
 * them (`bench:realtime` p99 17.7–58.3 ms over 14 runs, 4 of them above 50). With C1 alone the broker
 * costs ≈ 3 % of a core more under that load and the bursts are gone (p99 17.8–41.4 ms over 8 runs).
 * A broker with cores of its own (compose, Kubernetes) keeps the JVM's default.
 */
function jitOptions(): string[] {
  const jit = env('KAFKA_JIT') ?? 'c1';
  if (jit === 'c1') return ['-XX:TieredStopAtLevel=1'];
  if (jit === 'c2') return [];
  throw new UserError(`KAFKA_JIT=${jit} is not c1 or c2`);
}

/**
 * Starts a broker and returns its pid (readiness is the caller's to await). The stack's broker uses
 * the stack's paths and ports; a test that kills and restarts a broker starts one of its own.
 */
export async function startBroker(broker: BrokerLayout, progress: Progress): Promise<number> {
  writeConfig(broker);
  await formatStorage(broker, progress);
  progress('starting the JVM');
  return spawnDaemon({
    command: 'java',
    // Test runs create thousands of (prefixed) topics; 512 MiB ran out of heap after a few runs.
    // A fixed size, as Kafka's script sets (-Xms = -Xmx): grown on demand, the heap sat at ≈580 MiB
    // around a ≈220 MiB live set, above the 35 % that starts G1's concurrent marking, so a marking
    // cycle (150–250 ms of CPU, and a 20–50 ms remark pause) followed nearly every young pause,
    // every ≈11 s under bench:realtime; each one held up the events in flight.
    args: [
      `-Xmx${broker.heap}`,
      `-Xms${broker.heap}`,
      // The JVM options Kafka's own start script passes (kafka-run-class.sh), which this launcher
      // bypasses. Without them G1 aims at 200 ms pauses and grows the young generation to match:
      // under load the broker stopped for 60–130 ms every ≈20 s, and every event in flight with it.
      ...KAFKA_JVM_PERFORMANCE_OPTS,
      ...jitOptions(),
      '-Djava.awt.headless=true',
      ...javaClasspath(broker),
      'kafka.Kafka',
      join(broker.configDir, 'server.properties'),
    ],
    log: broker.log,
  });
}

/** One quick probe: the broker lists its topics. */
export async function brokerAnswers(brokers: string[]): Promise<boolean> {
  const admin = new Kafka({
    clientId: 'trellis-stack',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 2_000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    await admin.listTopics();
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export const kafka: Component = {
  name: 'kafka',
  external: external.kafkaBrokers && `KAFKA_BROKERS=${external.kafkaBrokers}`,
  externalEnv: 'KAFKA_BROKERS',
  ports: [
    { port: ports.kafka, env: 'KAFKA_PORT' },
    { port: ports.kafkaController, env: 'KAFKA_CONTROLLER_PORT', label: 'controller' },
  ],
  marker: serverProperties,
  readyTimeoutMs: 90_000,
  stopTimeoutMs: 30_000,
  isProvisioned: () => existsSync(join(libs, 'kafka_2.13-3.9.1.jar')),
  provision,
  start: (progress) => startBroker(stackBroker, progress),
  ready: () => brokerAnswers(endpoints.kafkaBrokers.split(',')),
};
