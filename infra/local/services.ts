// The six Trellis services and the env each one reads (its env contract), plus
// the env that tests get to reach the stack. `start` and `test` both use it.
import { join } from 'node:path';

import { endpoints, env, envPort, paths, redact } from './config.ts';
import { UserError } from './log.ts';

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
  service('gateway', 8080),
  service('identity', 8081, 'postgres'),
  service('governance', 8082, 'postgres'),
  service('work', 8083, 'postgres'),
  service('collab', 8084, 'mongo'),
  service('notify', 8085, 'mongo'),
];

export function serviceUrl(service: Service): string {
  return `http://127.0.0.1:${service.port}`;
}

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

export function serviceEnv(service: Service): Record<string, string> {
  const vars: Record<string, string> = {
    // Loopback, whatever HOST the shell exports: nothing here is meant for the network.
    // GATEWAY_HOST opens the gateway alone (0.0.0.0: the API from other machines).
    HOST: (service.name === 'gateway' ? env('GATEWAY_HOST') : undefined) ?? '127.0.0.1',
    PORT: String(service.port),
    KAFKA_BROKERS: endpoints.kafkaBrokers,
    KAFKA_TOPIC_PREFIX: env('KAFKA_TOPIC_PREFIX') ?? '',
    LOG_LEVEL: env('LOG_LEVEL') ?? 'info',
    NODE_ENV: env('NODE_ENV') ?? 'development',
  };
  if (service.store === 'postgres') {
    vars.DATABASE_URL = withDatabase(endpoints.databaseUrl, databaseName(service));
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
  const urlOf = (name: string) => serviceUrl(services.find((other) => other.name === name) ?? service);
  for (const [upstream, readers] of Object.entries(INTERNAL_UPSTREAMS))
    if (readers.includes(service.name)) vars[`${upstream.toUpperCase()}_URL`] = urlOf(upstream);
  if (service.name === 'gateway') {
    // `/metrics` is not on the public port (architecture.md §8): on this one, loopback only.
    vars.METRICS_PORT = String(envPort('GATEWAY_METRICS_PORT', 9464));
    for (const upstream of services.filter((other) => other !== service)) {
      vars[`${upstream.name.toUpperCase()}_URL`] = serviceUrl(upstream);
    }
  }
  return vars;
}
