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
] as const;

export type Topic = (typeof TOPICS)[number];

/** Topics internal to one service (never audited, never read by another service). */
export const INTERNAL_TOPICS = ['notify.realtime'] as const;

export function dlqTopic(topic: string): string {
  return `${topic}.dlq`;
}
