// Process entry: config → connect → listen → consume → shutdown.
import { createLogger, serve, startMongoRuntime } from '@trellis/shared';
import { buildApp } from './app.ts';
import { readConfig } from './config.ts';

const config = readConfig();
const logger = createLogger('collab', config.LOG_LEVEL);
const runtime = await startMongoRuntime({ service: 'collab', config, logger });
const app = buildApp({ logger, readiness: runtime.readiness });
await serve({
  app,
  port: config.PORT,
  logger,
  shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  stopSteps: runtime.stopSteps,
});
