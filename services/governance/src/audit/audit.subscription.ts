import type { Sequelize } from 'sequelize';
import { TOPICS, type EventBus, type EventConsumer } from '@trellis/shared';
import type { AuditLog } from './audit.service.ts';

/**
 * Topics whose events enter the audit log through Kafka: every service's but governance's own
 * (appended in the same transaction as the change, see app.ts) and the `*.mail` topics, which
 * carry one-time codes and tokens meant for notify alone.
 */
export const AUDITED_TOPICS: string[] = TOPICS.filter(
  (topic) => !topic.startsWith('governance.') && !topic.endsWith('.mail'),
);

/** A consumer group of its own, so a slow audit never delays governance's projections. */
export function startAuditSubscription(deps: {
  bus: EventBus;
  sequelize: Sequelize;
  audit: AuditLog;
}): Promise<EventConsumer> {
  return deps.bus.consume({
    groupId: 'governance-audit',
    topics: AUDITED_TOPICS,
    handle: async ({ event }) => {
      if (!event.orgId) return 'skip';
      await deps.sequelize.transaction((transaction) => deps.audit.append(transaction, [event]));
    },
  });
}
