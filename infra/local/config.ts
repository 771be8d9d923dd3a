// Where the local stack keeps things and which ports/URLs it uses.
// Every value can be overridden by env; this is the only file that reads it
// for the stack itself (services.ts builds the services' env from it).
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

import { UserError } from './log.ts';

/** Unset and empty env vars are the same thing: not given. */
export function env(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

export function envPort(name: string, fallback: number): number {
  const raw = env(name);
  if (raw === undefined) return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UserError(`${name}=${raw} is not a valid TCP port`);
  }
  return port;
}

const repo = resolve(import.meta.dirname, '../..');
const home = resolve(env('TRELLIS_HOME') ?? join(repo, '.trellis'));

export const paths = {
  repo,
  /** Downloads and builds, shared by every clone on the machine, keyed by version. */
  cache: resolve(env('TRELLIS_CACHE') ?? join(homedir(), '.cache', 'trellis')),
  /** Runtime state of this clone's stack. */
  home,
  data: (name: string) => join(home, 'data', name),
  config: (name: string) => join(home, 'config', name),
  log: (name: string) => join(home, 'logs', `${name}.log`),
  pid: (name: string) => join(home, 'run', `${name}.pid`),
};

export const ports = {
  kafka: envPort('KAFKA_PORT', 9092),
  kafkaController: envPort('KAFKA_CONTROLLER_PORT', 9093),
  postgres: envPort('PG_PORT', 5432),
  mongo: envPort('MONGO_PORT', 27017),
  smtp: envPort('SMTP_PORT', 1025),
  maildevHttp: envPort('MAILDEV_HTTP_PORT', 1080),
  /** Jaeger (only with tracing on): OTLP over HTTP in, the UI and query API out, its query gRPC. */
  jaegerOtlp: envPort('JAEGER_OTLP_PORT', 4318),
  jaegerUi: envPort('JAEGER_UI_PORT', 16686),
  jaegerGrpc: envPort('JAEGER_GRPC_PORT', 16685),
};

/** Infrastructure the user already runs elsewhere; we then don't start our own. */
export const external = {
  kafkaBrokers: env('KAFKA_BROKERS'),
  databaseUrl: env('DATABASE_URL'),
  mongoUrl: env('MONGO_URL'),
};

/** A URL fit for printing: the password is masked. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
}

/** How clients reach the stack, whether we run it or it is external. */
export const endpoints = {
  kafkaBrokers: external.kafkaBrokers ?? `127.0.0.1:${ports.kafka}`,
  /** Admin URL (database `postgres`). */
  databaseUrl: external.databaseUrl ?? `postgres://postgres:postgres@127.0.0.1:${ports.postgres}/postgres`,
  mongoUrl: external.mongoUrl ?? `mongodb://127.0.0.1:${ports.mongo}/`,
  smtpHost: '127.0.0.1',
  smtpPort: ports.smtp,
  maildevUrl: `http://127.0.0.1:${ports.maildevHttp}`,
  /** Where services send spans when tracing is on (OTEL_EXPORTER_OTLP_ENDPOINT). */
  otlpUrl: `http://127.0.0.1:${ports.jaegerOtlp}`,
  jaegerUrl: `http://127.0.0.1:${ports.jaegerUi}`,
};
