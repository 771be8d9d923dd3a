import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { stopTracing } from '../observability/tracing.ts';

export interface ShutdownStep {
  name: string;
  run: () => Promise<unknown>;
}

/**
 * Runs the steps in order on SIGTERM/SIGINT (stop HTTP → stop consumers → flush outbox → close
 * stores), each at most once, bounded by a global timeout so a stuck step cannot keep a pod alive.
 * Returns the function so fatal errors can trigger the same path.
 */
export function installShutdown(
  logger: Logger,
  timeoutMs: number,
  steps: ShutdownStep[],
): (reason: string) => void {
  let started = false;
  const shutdown = (reason: string) => {
    if (started) return;
    started = true;
    logger.info({ reason }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown timed out; exiting');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    void (async () => {
      let failed = reason !== 'SIGTERM' && reason !== 'SIGINT';
      for (const step of steps) {
        const began = performance.now();
        try {
          await step.run();
          logger.info({ step: step.name, ms: Math.round(performance.now() - began) }, 'shutdown step done');
        } catch (err) {
          failed = true;
          logger.error({ err, step: step.name }, 'shutdown step failed');
        }
      }
      logger.info('stopped');
      // The spans of the drain itself are sent before the process goes.
      await stopTracing().catch(() => undefined);
      process.exit(failed ? 1 : 0);
    })();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.on('unhandledRejection', (err) => {
    logger.fatal({ err }, 'unhandled rejection');
    shutdown('unhandledRejection');
  });
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception');
    shutdown('uncaughtException');
  });
  return shutdown;
}

/** Listens on `host` (no default: which interfaces a service is reachable on is always said). */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

/**
 * The server's connections that have not carried a request (nor an upgrade) yet. `server.close()`
 * closes idle keep-alive connections, but waits for these — a client's or a balancer's connection
 * opened ahead of use — until their headers time out (60 s), past any shutdown timeout.
 */
export function unusedConnections(server: Server): { destroy: () => void } {
  const unused = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    unused.add(socket);
    socket.once('close', () => unused.delete(socket));
  });
  const used = (req: IncomingMessage) => unused.delete(req.socket);
  server.on('request', used);
  server.on('upgrade', used);
  return { destroy: () => unused.forEach((socket) => socket.destroy()) };
}

/**
 * Stops accepting connections and resolves once the open ones are gone: idle and never-used ones
 * are closed at once, those with a request in flight after its answer (which says `Connection:
 * close` since the drain began).
 */
export function closeServer(server: Server, unused?: { destroy: () => void }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeIdleConnections();
    unused?.destroy();
  });
}
