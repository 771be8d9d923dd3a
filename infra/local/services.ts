// The six Trellis services and the env each one reads (its env contract), plus
// the env that tests get to reach the stack. `start` and `test` both use it.
import { join } from 'node:path';

import { endpoints, env, envPort, paths, redact } from './config.ts';
import { UserError } from './log.ts';
import { asRuntimeRole } from './migrations.ts';

/** Upstream → the services that call it (JWKS, internal fallback endpoints). */
const INTERNAL_UPSTREAMS: Record<string, string[]> = {
  identity: ['governance', 'work', 'collab', 'notify'],
  governance: ['work', 'collab', 'notify'],
  work: ['collab', 'notify'],
  collab: ['notify'],
};

export interface Service {
  name: string;
  port: number;
  /** The env var that overrides `port`, e.g. GATEWAY_PORT. */
  portEnv: string;
  store?: 'postgres' | 'mongo' | undefined;
}

function service(name: string, defaultPort: number, store?: Service['store']): Service {
  const portEnv = `${name.toUpperCase()}_PORT`;
  return { name, port: envPort(portEnv, defaultPort), portEnv, store };
}

export const services: Service[] = [
  // Its database holds the rate-limit counters its replicas share (RATE_LIMIT_STORE=postgres below).
  service('gateway', 8080, 'postgres'),
  service('identity', 8081, 'postgres'),
  service('governance', 8082, 'postgres'),
  service('work', 8083, 'postgres'),
  service('collab', 8084, 'mongo'),
  service('notify', 8085, 'mongo'),
];

/** Replica k of a service listens on its port + k × REPLICA_PORT_STEP (8083, 8183, …). */
export const REPLICA_PORT_STEP = 100;

/**
 * Processes per service: `npm start -- --replicas=N`, else TRELLIS_REPLICAS, else 1. At most the
 * topics' partitions would use: more would sit idle in their consumer groups.
 */
export function replicaCount(args: string[] = []): number {
  const flag = args.find((arg) => arg.startsWith('--replicas='))?.slice('--replicas='.length);
  const value = flag ?? env('TRELLIS_REPLICAS') ?? '1';
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1 || count > 12)
    throw new UserError(`--replicas / TRELLIS_REPLICAS must be a whole number from 1 to 12 (got ${value})`);
  return count;
}

/** One process of a service: `work`, or `work#2` for the second of several. */
export interface Replica {
  service: Service;
  /** 0 for the first. */
  index: number;
  port: number;
  name: string;
}

export function replicasOf(service: Service, count: number): Replica[] {
  return Array.from({ length: count }, (_, index) => ({
    service,
    index,
    port: service.port + index * REPLICA_PORT_STEP,
    name: count > 1 ? `${service.name}#${index + 1}` : service.name,
  }));
}

export function replicaUrl(replica: Pick<Replica, 'port'>): string {
  return `http://127.0.0.1:${replica.port}`;
}

/** The first replica's URL (the only one's, at one replica). */
export function serviceUrl(service: Service): string {
  return `http://127.0.0.1:${service.port}`;
}

/** Every replica's URL, as the comma list the services' *_URL settings take. */
function serviceUrls(service: Service, count: number): string {
  return replicasOf(service, count).map(replicaUrl).join(',');
}

/**
 * With several replicas, a stopping one goes on serving (not ready, every answer `Connection: close`)
 * this long before it closes its port: longer than the gateways' health-check interval (1 s), so it is
 * out of their rotation, and than the 5 s keep-alive timeout of its idle connections, so every
 * caller's pooled connection to it has either been closed by that timeout — which clients expect,
 * from the `Keep-Alive` header — or told to close by an answer. Closing idle connections sooner
 * would meet a request already on its way on one of them.
 */
export const DRAIN_MS_AT_REPLICAS = 6_000;
/** The whole stop, the drain included, at several replicas (the default, 10 s, is one replica's). */
export const SHUTDOWN_TIMEOUT_MS_AT_REPLICAS = 20_000;

export function serviceDir(service: Service): string {
  return join(paths.repo, 'services', service.name);
}

/** `trellis_<service>`; TRELLIS_DB_PREFIX replaces `trellis` (a second stack beside the first). */
export function databaseName(service: Service): string {
  return `${env('TRELLIS_DB_PREFIX') ?? 'trellis'}_${service.name}`;
}

/** Swaps the database of a postgres:// or mongodb:// URL, keeping hosts and query (multi-host safe). */
export function withDatabase(url: string, database: string): string {
  const match = /^([a-z][a-z0-9+.-]*:\/\/[^/?]*)(?:\/[^?]*)?(\?.*)?$/i.exec(url);
  if (!match) throw new UserError(`cannot parse database URL ${redact(url)}`);
  return `${match[1]}/${database}${match[2] ?? ''}`;
}

/**
 * The Node options of every service process — `npm start`, the tests' and benchmarks' suites, the
 * Docker image (infra/docker/service.Dockerfile, checked equal by infra/test). kafkajs 2.2.4 trips
 * Node 24's TimeoutNegativeWarning on every connection: harmless noise. A semi-space of 8 MiB caps
 * the young generation at 24 MiB: V8 sizes it from the machine's memory otherwise (up to 3 × 32 MiB
 * on 24 GiB), and a busy gateway's RSS grew by 60 % over a 10-minute soak to a plateau of 400 MiB
 * that bought nothing (docs/performance.md, the drills).
 */
export const SERVICE_NODE_OPTIONS = '--disable-warning=TimeoutNegativeWarning --max-semi-space-size=8';

/** SERVICE_NODE_OPTIONS after the caller's own NODE_OPTIONS. */
export function quietNodeOptions(): string {
  return [env('NODE_OPTIONS'), SERVICE_NODE_OPTIONS].filter(Boolean).join(' ');
}

/** What a test run needs to reach the stack (admin URLs: tests create their own databases). */
export function stackEnv(): Record<string, string> {
  return {
    KAFKA_BROKERS: endpoints.kafkaBrokers,
    DATABASE_URL: endpoints.databaseUrl,
    MONGO_URL: endpoints.mongoUrl,
    SMTP_HOST: endpoints.smtpHost,
    SMTP_PORT: String(endpoints.smtpPort),
    MAILDEV_URL: endpoints.maildevUrl,
  };
}

/** The env of one replica (`index` of `count`) of a service. */
export function serviceEnv(service: Service, index = 0, count = 1): Record<string, string> {
  const vars: Record<string, string> = {
    // Loopback, whatever HOST the shell exports: nothing here is meant for the network.
    // GATEWAY_HOST opens the gateway alone (0.0.0.0: the API from other machines).
    HOST: (service.name === 'gateway' ? env('GATEWAY_HOST') : undefined) ?? '127.0.0.1',
    PORT: String(service.port + index * REPLICA_PORT_STEP),
    KAFKA_BROKERS: endpoints.kafkaBrokers,
    KAFKA_TOPIC_PREFIX: env('KAFKA_TOPIC_PREFIX') ?? '',
    LOG_LEVEL: env('LOG_LEVEL') ?? 'info',
    NODE_ENV: env('NODE_ENV') ?? 'development',
  };
  if (service.store === 'postgres') {
    // As the runtime role: the migration step (migrations.ts) ran as the owner before.
    vars.DATABASE_URL = asRuntimeRole(withDatabase(endpoints.databaseUrl, databaseName(service)));
  }
  if (service.store === 'mongo') {
    vars.MONGO_URL = withDatabase(endpoints.mongoUrl, databaseName(service));
  }
  if (service.name === 'notify') {
    vars.SMTP_HOST = endpoints.smtpHost;
    vars.SMTP_PORT = String(endpoints.smtpPort);
    // Mail links point at this stack's gateway, whatever its port.
    const gateway = services.find((other) => other.name === 'gateway');
    vars.APP_URL = env('APP_URL') ?? (gateway ? serviceUrl(gateway) : '');
    // Webhooks to receivers on this machine (http://127.0.0.1:…): a deployment allows neither.
    vars.WEBHOOK_ALLOW_HTTP = env('WEBHOOK_ALLOW_HTTP') ?? 'true';
    vars.WEBHOOK_ALLOW_PRIVATE_NETWORKS = env('WEBHOOK_ALLOW_PRIVATE_NETWORKS') ?? 'true';
  }
  // Services that verify access tokens themselves fetch identity's JWKS; work, collab and notify
  // also ask governance (collab and notify also work, notify also collab) for what their projections
  // have not seen yet.
  if (count > 1) {
    vars.SHUTDOWN_DRAIN_MS = env('SHUTDOWN_DRAIN_MS') ?? String(DRAIN_MS_AT_REPLICAS);
    vars.SHUTDOWN_TIMEOUT_MS = env('SHUTDOWN_TIMEOUT_MS') ?? String(SHUTDOWN_TIMEOUT_MS_AT_REPLICAS);
  }
  const urlOf = (name: string) =>
    serviceUrls(services.find((other) => other.name === name) ?? service, count);
  for (const [upstream, readers] of Object.entries(INTERNAL_UPSTREAMS))
    if (readers.includes(service.name)) vars[`${upstream.toUpperCase()}_URL`] = urlOf(upstream);
  if (service.name === 'gateway') {
    // `/metrics` is not on the public port (architecture.md §8): on this one, loopback only.
    vars.METRICS_PORT = String(envPort('GATEWAY_METRICS_PORT', 9464) + index);
    // One rate-limit count per caller for every replica (services/gateway/README.md).
    vars.RATE_LIMIT_STORE = 'postgres';
    for (const upstream of services.filter((other) => other !== service)) {
      vars[`${upstream.name.toUpperCase()}_URL`] = serviceUrls(upstream, count);
    }
  }
  return vars;
}
