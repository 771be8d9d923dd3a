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

export function dlqTopic(topic: string): string {
  return `${topic}.dlq`;
}
