import express, { type Express } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
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
}

export interface ServiceApp {
  app: Express;
  metrics: Metrics;
  /** Adds the 404 and error handlers: call once, after every route. */
  finish: () => Express;
}

const READINESS_TIMEOUT_MS = 2_000;

async function probe(check: ReadinessCheck): Promise<[string, 'up' | 'down']> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), READINESS_TIMEOUT_MS);
  });
  try {
    await Promise.race([check.check(), timeout]);
    return [check.name, 'up'];
  } catch {
    return [check.name, 'down'];
  } finally {
    clearTimeout(timer);
  }
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
  app.set('trust proxy', 'loopback, linklocal, uniquelocal');
  const metrics = options.metrics ?? createMetrics(service);

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
    const results = Object.fromEntries(await Promise.all(readiness.map(probe)));
    const ok = Object.values(results).every((state) => state === 'up');
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', checks: results });
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
  return { app, metrics, finish };
}
