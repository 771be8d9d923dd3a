import { createServer } from 'node:http';
import type { Logger } from 'pino';
import type { Metrics } from '../http/metrics.ts';
import { closeServer, listen } from '../lifecycle/shutdown.ts';

export interface MetricsServer {
  port: number;
  close: () => Promise<void>;
}

/**
 * `GET /metrics` on a port of its own, for a service whose main port is public (the gateway): the
 * public port answers 404 there, and only what can reach this port (Prometheus inside the cluster,
 * the local machine) reads the metrics. Everything else on it is a 404.
 */
export async function serveMetrics(options: {
  metrics: Metrics;
  host: string;
  /** 0: a free port (tests). */
  port: number;
  logger: Logger;
}): Promise<MetricsServer> {
  const { registry } = options.metrics;
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => {
        options.logger.error({ err }, 'metrics not collected');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('Metrics not collected\n');
      },
    );
  });
  const port = await listen(server, options.port, options.host);
  options.logger.info({ host: options.host, port }, 'metrics listening');
  return { port, close: () => closeServer(server) };
}
