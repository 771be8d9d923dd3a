import type { Notification } from './notification.model.ts';

/** api.md §6. */
export function notificationView(n: Notification) {
  return {
    id: n._id,
    type: n.type,
    orgId: n.orgId,
    title: n.title,
    body: n.body,
    subject: { kind: n.subject.kind, id: n.subject.id },
    actorId: n.actorId,
    read: n.read,
    createdAt: n.createdAt.toISOString(),
  };
}
