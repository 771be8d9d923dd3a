// The native local stack manager (no Docker): `node infra/local/cli.ts <command>`.
// npm scripts: stack:provision, stack:up, stack:down, stack:status, start, service, test.
import { UserError } from './log.ts';
import { down, provision, status, up } from './stack.ts';
import { start } from './start.ts';
import { sendCommand } from './supervisor.ts';
import { test } from './test.ts';

const USAGE = `usage: node infra/local/cli.ts <command>

  provision   fetch Kafka (mvn), build FerretDB, promtool and Jaeger (go) into the cache, if missing
  up          provision, then start Kafka, PostgreSQL, FerretDB and MailDev in the background
  down        stop them (and Jaeger, if it runs)
  status      show what runs, with pids and ports
  start [--tracing]
              up + the six services in the foreground, supervised (Ctrl-C stops what it started);
              --tracing also runs Jaeger and sends it every service's traces (UI URL printed)
  service restart <name>
              restart one service of the running \`npm start\` (graceful stop, start, wait until ready)
  test [patterns|--flags=…]
              up + node --test over shared/ and services/, then stop what it started

See infra/local/README.md for ports, env vars and locations.`;

// kafkajs 2.2.4 schedules a negative timeout on each connection: harmless, but
// Node 24 prints a TimeoutNegativeWarning every time. Show other warnings.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name !== 'TimeoutNegativeWarning') console.warn(`${warning.name}: ${warning.message}`);
});

const [command, ...args] = process.argv.slice(2);

const commands = new Map<string, () => Promise<number | void>>([
  ['provision', () => provision({ tools: true })],
  ['up', async () => void (await up())],
  ['down', () => down()],
  ['status', status],
  ['start', () => start(args)],
  ['test', () => test(args)],
  [
    'service',
    async () => {
      const [verb, name] = args;
      if (verb !== 'restart' || !name) throw new UserError('usage: npm run service -- restart <name>');
      console.log(`✓ ${await sendCommand(`restart ${name}`)}`);
    },
  ],
]);

const run = command === undefined ? undefined : commands.get(command);
if (!run) {
  (command === undefined || command === 'help' ? console.log : console.error)(USAGE);
  process.exit(command === undefined || command === 'help' ? 0 : 2);
}

try {
  process.exit((await run()) ?? 0);
} catch (error) {
  if (!(error instanceof UserError)) throw error;
  console.error(`✗ ${error.message}`);
  process.exit(1);
}
