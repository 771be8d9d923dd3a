import { Counter, Histogram, type Registry } from 'prom-client';
import type { Mailer } from './mailer.ts';

export interface MailMetrics {
  /** `mailer` with each send counted by lane and outcome, and timed. */
  mailer: Mailer;
  /** A queued notification mail given up after its last attempt. */
  givenUp: () => void;
}

/**
 * Notify's mail metrics, on `registry`:
 * - `mail_deliveries_total{lane,outcome}`: SMTP sends, `sent` or `failed` (a failed one is retried:
 *   by the consumer for `transactional` mails, by the queue's backoff for `notifications`);
 * - `mail_send_duration_seconds{lane}`: how long the SMTP server took to accept or refuse a mail;
 * - `mail_given_up_total`: notification mails dropped after the queue's last attempt.
 */
export function mailMetrics(mailer: Mailer, registry: Registry): MailMetrics {
  const deliveries = new Counter({
    name: 'mail_deliveries_total',
    help: 'SMTP sends by lane (transactional, notifications) and outcome (sent, failed)',
    labelNames: ['lane', 'outcome'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'mail_send_duration_seconds',
    help: 'Time the SMTP server took to accept or refuse one mail, by lane',
    labelNames: ['lane'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20],
    registers: [registry],
  });
  const givenUp = new Counter({
    name: 'mail_given_up_total',
    help: 'Notification mails given up after their last attempt',
    registers: [registry],
  });
  return {
    mailer: {
      send: async (mail, lane = 'transactional') => {
        const end = duration.startTimer({ lane });
        try {
          const sent = await mailer.send(mail, lane);
          deliveries.inc({ lane, outcome: 'sent' });
          return sent;
        } catch (err) {
          deliveries.inc({ lane, outcome: 'failed' });
          throw err;
        } finally {
          end();
        }
      },
      close: () => mailer.close(),
    },
    givenUp: () => givenUp.inc(),
  };
}
