/**
 * Partitions of each topic a service creates (`KAFKA_TOPIC_PARTITIONS`): the most replicas of one
 * consumer group that all get work (architecture.md §7). No HorizontalPodAutoscaler goes above it
 * (infra/test). A topic keeps the count it was created with: growing one later moves keys between
 * partitions, so a subject's events could be read out of order while the old ones drain.
 */
export const DEFAULT_TOPIC_PARTITIONS = 12;

/** Topics per aggregate (architecture.md §3). Dead letters go to `<topic>.dlq`. */
export const TOPICS = [
  'identity.user',
  'identity.session',
  'identity.mail',
  'governance.org',
  'governance.membership',
  'governance.team',
  'governance.invitation',
  'governance.approval',
  // Mail requests carrying invitation tokens: read by notify alone, never audited.
  'governance.mail',
  'work.project',
  'work.task',
  'work.sprint',
  'collab.comment',
  'collab.message',
  'collab.announcement',
  'notify.webhook',
] as const;

export type Topic = (typeof TOPICS)[number];

/**
 * Topics whose events come with the work itself, and in bursts (an import, a sprint closing, a
 * script). A service reads them under a consumer group apart from everything else it consumes, so a
 * backlog of them never holds up a membership removal, a session revocation or an org's life.
 */
export const ACTIVITY_TOPICS: ReadonlySet<string> = new Set<Topic>([
  'work.task',
  'work.sprint',
  'collab.comment',
  'collab.message',
  'collab.announcement',
]);

export function dlqTopic(topic: string): string {
  return `${topic}.dlq`;
}
