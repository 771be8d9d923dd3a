// The migration step, run once per rollout before the new version's replicas start (npm run migrate,
// the Kubernetes Job identity-migrate, compose's identity-migrate): applies identity's migrations as the migration
// role (DATABASE_URL), grants DATABASE_RUNTIME_ROLE what the service needs, and exits.
import { runMigrationJob } from '@trellis/shared';
import { migrations } from './migrations/index.ts';

process.exitCode = await runMigrationJob({ service: 'identity', migrations });
