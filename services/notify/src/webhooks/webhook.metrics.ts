import { Counter, Histogram, type Registry } from 'prom-client';

/** How a delivery attempt (or a delivery ended without one) came out. */
export type AttemptOutcome = 'succeeded' | 'retrying' | 'failed' | 'dropped';

/** Told of every attempt the dispatcher records; `seconds` is null for a delivery ended unsent. */
export type AttemptObserver = (outcome: AttemptOutcome, seconds: number | null) => void;

/**
 * Webhook delivery metrics, on `registry`:
 * - `webhook_deliveries_total{outcome}`: attempts that `succeeded` (2xx), failed and will be
 *   `retrying`, or `failed` for good (the schedule is used up), and deliveries `dropped` unsent (the
 *   webhook is gone or off, or the event is not visible to its creator);
 * - `webhook_attempt_duration_seconds`: how long receivers took to answer (or time out).
 */
export function webhookMetrics(registry: Registry): AttemptObserver {
  const deliveries = new Counter({
    name: 'webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome (succeeded, retrying, failed), and deliveries dropped unsent',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'webhook_attempt_duration_seconds',
    help: 'Time a webhook receiver took to answer one attempt (timeouts included)',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  return (outcome, seconds) => {
    deliveries.inc({ outcome });
    if (seconds !== null) duration.observe(seconds);
  };
}
