import type { Sequelize } from 'sequelize';
import { TOPICS, type EventBus, type EventConsumer } from '@trellis/shared';
import { AuditBatcher } from './audit.batcher.ts';
import type { AuditLog } from './audit.service.ts';

/**
 * Topics whose events enter the audit log through Kafka: every service's but governance's own
 * (appended in the same transaction as the change, see app.ts) and the `*.mail` topics, which
 * carry one-time codes and tokens meant for notify alone.
 */
export const AUDITED_TOPICS: string[] = TOPICS.filter(
  (topic) => !topic.startsWith('governance.') && !topic.endsWith('.mail'),
);

/** How long a fetch may wait to gather events: people read the log, nobody waits on it. */
const AUDIT_BATCH_WAIT_MS = 1_000;

/**
 * A consumer group of its own, so a slow audit never delays governance's projections. Pipelined:
 * a fetched batch's events are all handed to the batcher in partition order before the first
 * write starts, so they share its transactions.
 */
export function startAuditSubscription(deps: {
  bus: EventBus;
  sequelize: Sequelize;
  audit: AuditLog;
}): Promise<EventConsumer> {
  const batcher = new AuditBatcher(deps);
  return deps.bus.consume({
    groupId: 'governance-audit',
    topics: AUDITED_TOPICS,
    batchWaitMs: AUDIT_BATCH_WAIT_MS,
    pipelined: true,
    handle: async ({ event }) => {
      if (!event.orgId) return 'skip';
      await batcher.append(event);
    },
  });
}
