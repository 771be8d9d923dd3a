// The migration step, run once per rollout before the new version's replicas start (npm run migrate,
// and wherever identity's runs): applies the gateway's migrations (its `rate_limit` table, needed with
// RATE_LIMIT_STORE=postgres) as the migration role (DATABASE_URL), grants DATABASE_RUNTIME_ROLE what
// the gateway needs, and exits.
import { runMigrationJob } from '@trellis/shared';
import { migrations } from './migrations/index.ts';

process.exitCode = await runMigrationJob({ service: 'gateway', migrations });
