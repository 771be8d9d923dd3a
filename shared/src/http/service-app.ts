import type { IncomingMessage } from 'node:http';
import express, { type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import { Gauge } from 'prom-client';
import type { Logger } from 'pino';
import { redactUrl } from '../logging/logger.ts';
import { closeConnectionsWhileDraining, isDraining } from '../lifecycle/drain.ts';
import { forwardedClient, GATEWAY_HOP, proxyTrust, type TrustProxy } from './client-address.ts';
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
  /**
   * False: no `GET /metrics` on this app (it answers 404). For a public port: the gateway serves its
   * metrics on a port of its own (`serveMetrics`).
   */
  metricsEndpoint?: boolean;
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

interface Readiness {
  /** `degraded`: a non-critical dependency is down; the service still serves its requests. */
  status: 'ok' | 'degraded' | 'unavailable';
  checks: Record<string, 'up' | 'down'>;
}

/** Probes every dependency in parallel: down critical → unavailable, down other → degraded. */
async function readinessOf(checks: ReadinessCheck[]): Promise<Readiness> {
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

/** Requests not worth a log line each: scrapes and probes. */
const unlogged = (url: string) => url === '/metrics' || url.startsWith('/health');

/**
 * One line per request once answered: id, method, path (secrets redacted) and status — headers would
 * repeat on every line and risk secrets. Written here rather than with pino-http, which built a child
 * logger and serialized the request for every call, whether the level let the line out or not.
 */
export function accessLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    if (unlogged(req.url)) {
      next();
      return;
    }
    const began = performance.now();
    res.once('finish', () => {
      const failed = res.statusCode >= 500;
      if (!logger.isLevelEnabled(failed ? 'error' : 'info')) return;
      const line = {
        req: { id: req.id, method: req.method, url: redactUrl(req.originalUrl) },
        res: { statusCode: res.statusCode },
        responseTime: Math.round(performance.now() - began),
      };
      if (failed) logger.error(line, 'request errored');
      else logger.info(line, 'request completed');
    });
    next();
  };
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

  app.use(closeConnectionsWhileDraining());
  app.use(requestId());
  app.use(accessLog(logger));
  app.use(metrics.middleware);
  app.use(helmet());

  app.get('/health/live', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/health/ready', async (_req, res) => {
    if (isDraining()) {
      res.status(503).json({ status: 'draining' });
      return;
    }
    const readinessState = await readinessOf(readiness);
    res.status(readinessState.status === 'unavailable' ? 503 : 200).json(readinessState);
  });
  if (options.metricsEndpoint !== false)
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
