// Process entry. Tracing starts first, when configured: it hooks express, pg and the others as they
// load, so the service itself (run.ts: config → connect → listen → consume → shutdown) comes after.
import { startTracing } from '@trellis/shared/tracing';

await startTracing('work');
await import('./run.ts');
