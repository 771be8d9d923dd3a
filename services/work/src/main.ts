// Process entry: config → connect → listen → consume → shutdown.
import { createLogger, serve, startPostgresRuntime } from '@trellis/shared';
import { buildApp } from './app.ts';
import { readConfig } from './config.ts';
import { migrations } from './migrations/index.ts';

const config = readConfig();
const logger = createLogger('work', config.LOG_LEVEL);
const runtime = await startPostgresRuntime({ service: 'work', config, logger, migrations });
const app = buildApp({ logger, readiness: runtime.readiness });
await serve({
  app,
  port: config.PORT,
  logger,
  shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  stopSteps: runtime.stopSteps,
});
