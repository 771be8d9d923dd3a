import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import express, { type Express } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import { Gauge } from 'prom-client';
import type { Logger } from 'pino';
import { redactUrl } from '../logging/logger.ts';
import { errorHandler, notFoundHandler } from './error-handler.ts';
import { storableInput } from './input.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { openApiDocument, type RouteDoc } from './openapi.ts';
import { requestId } from './request-context.ts';

export interface ReadinessCheck {
  name: string;
  check: () => Promise<unknown>;
  /**
   * False for a dependency the service can serve without for a while (Kafka: the outbox holds the
   * events): when it is down, `/health/ready` still answers 200, with status `degraded`.
   */
  critical?: boolean;
}

export interface ServiceAppOptions {
  service: string;
  logger: Logger;
  readiness: ReadinessCheck[];
  /** JSON body parsing; the gateway turns it off so proxied bodies stream through untouched. */
  jsonBody?: boolean;
  bodyLimit?: string;
  /** The service's API routes, documented at `GET /openapi.json` (the gateway merges them). */
  routes?: RouteDoc[];
  /** Metrics created earlier (when components built before the app register their own); new otherwise. */
  metrics?: Metrics;
  /** Whose `X-Forwarded-For` decides `req.ip`; `GATEWAY_HOP` unless given (the gateway passes its own). */
  trustProxy?: TrustProxy;
}

export interface ServiceApp {
  app: Express;
  metrics: Metrics;
  /** `req.ip` by the same rule, for requests express never sees (HTTP upgrades). */
  clientAddress: (req: IncomingMessage) => string | undefined;
  /** Adds the 404 and error handlers: call once, after every route. */
  finish: () => Express;
}

const READINESS_TIMEOUT_MS = 2_000;
/** A non-critical dependency (Kafka) cannot make readiness slow: the gateway's `/health` waits 1 s. */
const DEGRADED_TIMEOUT_MS = 500;

/**
 * Which peers' `X-Forwarded-For` to believe when deciding the client address: `addresses` are IPs,
 * CIDRs or express's keywords `loopback`, `linklocal`, `uniquelocal`; believed for at most `hops`
 * proxies in a row, counted from the connection (all of them by default). An empty list believes no
 * forwarding header: the client is the peer of the connection.
 */
export interface TrustProxy {
  addresses: readonly string[];
  hops?: number;
}

/**
 * What every service behind the gateway believes: one hop, from a loopback or private peer (the
 * gateway, which replaces `X-Forwarded-For` with the one address it decided).
 */
export const GATEWAY_HOP: TrustProxy = { addresses: ['loopback', 'linklocal', 'uniquelocal'], hops: 1 };

/** The ranges behind express's (proxy-addr's) keywords. */
const ADDRESS_KEYWORDS: Record<string, string[]> = {
  loopback: ['127.0.0.1/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

const family = (address: string) => (isIP(address) === 4 ? 'ipv4' : 'ipv6');

/**
 * A test for addresses in a list of IPs, CIDRs and keywords (IPv4-mapped IPv6 addresses match their
 * IPv4 entries); throws on an entry that is none of them.
 */
export function addressMatcher(entries: readonly string[]): (address: string) => boolean {
  const list = new BlockList();
  for (const entry of entries.flatMap((e) => ADDRESS_KEYWORDS[e] ?? [e])) {
    const [address = '', prefix, ...rest] = entry.split('/');
    const maxPrefix = isIP(address) === 4 ? 32 : 128;
    const valid =
      isIP(address) !== 0 &&
      rest.length === 0 &&
      (prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= maxPrefix));
    if (!valid)
      throw new Error(
        `${entry} is not an IP address, a CIDR or one of ${Object.keys(ADDRESS_KEYWORDS).join(', ')}`,
      );
    if (prefix === undefined) list.addAddress(address, family(address));
    else list.addSubnet(address, Number(prefix), family(address));
  }
  return (address) => isIP(address) !== 0 && list.check(address, family(address));
}

/** express's `trust proxy` function: is the address `hop` proxies away from us one we believe? */
function proxyTrust(setting: TrustProxy): (address: string, hop: number) => boolean {
  const trusted = addressMatcher(setting.addresses);
  const hops = setting.hops ?? Infinity;
  return (address, hop) => hop < hops && trusted(address);
}

/**
 * The walk express (proxy-addr) does for `req.ip`: from the connection's peer leftwards through
 * `X-Forwarded-For`, the first address not believed, else the leftmost.
 */
function forwardedClient(
  req: IncomingMessage,
  trust: (address: string, hop: number) => boolean,
): string | undefined {
  const forwarded = String(req.headers['x-forwarded-for'] ?? '')
    .split(',')
    .map((address) => address.trim())
    .filter(Boolean);
  const chain = [req.socket.remoteAddress ?? '', ...forwarded.reverse()];
  return chain.find((address, hop) => hop === chain.length - 1 || !trust(address, hop));
}

async function probe(check: ReadinessCheck): Promise<'up' | 'down'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    const timeoutMs = check.critical === false ? DEGRADED_TIMEOUT_MS : READINESS_TIMEOUT_MS;
    timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
  });
  try {
    await Promise.race([check.check(), timeout]);
    return 'up';
  } catch {
    return 'down';
  } finally {
    clearTimeout(timer);
  }
}

export interface Readiness {
  /** `degraded`: a non-critical dependency is down; the service still serves its requests. */
  status: 'ok' | 'degraded' | 'unavailable';
  checks: Record<string, 'up' | 'down'>;
}

/** Probes every dependency in parallel: down critical → unavailable, down other → degraded. */
export async function readinessOf(checks: ReadinessCheck[]): Promise<Readiness> {
  const results = await Promise.all(checks.map(async (check) => ({ check, state: await probe(check) })));
  const down = results.filter(({ state }) => state === 'down');
  const status = down.some(({ check }) => check.critical !== false)
    ? 'unavailable'
    : down.length > 0
      ? 'degraded'
      : 'ok';
  return { status, checks: Object.fromEntries(results.map(({ check, state }) => [check.name, state])) };
}

/** `dependency_up{dependency}`: 1 or 0 per readiness check, probed when scraped. */
function dependencyGauge(metrics: Metrics, checks: ReadinessCheck[]): void {
  if (metrics.registry.getSingleMetric('dependency_up')) return;
  new Gauge({
    name: 'dependency_up',
    help: 'Whether a dependency (database, Kafka) answered its readiness probe when scraped',
    labelNames: ['dependency', 'critical'] as const,
    registers: [metrics.registry],
    async collect() {
      const states = await Promise.all(checks.map(probe));
      checks.forEach((check, i) => {
        this.set(
          { dependency: check.name, critical: String(check.critical !== false) },
          states[i] === 'up' ? 1 : 0,
        );
      });
    },
  });
}

/**
 * The frame every service shares: request ids, access logs, security headers, metrics,
 * health endpoints and (after `finish`) the one central error handler.
 */
export function createServiceApp(options: ServiceAppOptions): ServiceApp {
  const { service, logger, readiness } = options;
  const app = express();
  app.disable('x-powered-by');
  // No hashed ETag on every body: single objects carry their version ETag (set by their routes,
  // still answered 304 on If-None-Match); hashing each list page cost CPU and promised nothing.
  app.set('etag', false);
  const trust = proxyTrust(options.trustProxy ?? GATEWAY_HOP);
  app.set('trust proxy', trust);
  const metrics = options.metrics ?? createMetrics(service);
  dependencyGauge(metrics, readiness);

  app.use(requestId());
  app.use(
    pinoHttp({
      logger,
      genReqId: (req) => req.id,
      // Method, path and status are enough; headers would repeat on every line and risk secrets.
      serializers: {
        req: (req: { id: string; method: string; url: string }) => ({
          id: req.id,
          method: req.method,
          url: redactUrl(req.url),
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      autoLogging: { ignore: (req) => req.url === '/metrics' || (req.url ?? '').startsWith('/health') },
    }),
  );
  app.use(metrics.middleware);
  app.use(helmet());

  app.get('/health/live', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/health/ready', async (_req, res) => {
    const readinessState = await readinessOf(readiness);
    res.status(readinessState.status === 'unavailable' ? 503 : 200).json(readinessState);
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  const document = openApiDocument({ title: service, version: '1' }, options.routes ?? []);
  app.get('/openapi.json', (_req, res) => {
    res.json(document);
  });

  if (options.jsonBody !== false) {
    app.use(express.json({ limit: options.bodyLimit ?? '1mb' }));
    app.use(storableInput());
  }

  const finish = () => {
    app.use(notFoundHandler());
    app.use(errorHandler(logger));
    return app;
  };
  return { app, metrics, finish, clientAddress: (req) => forwardedClient(req, trust) };
}
