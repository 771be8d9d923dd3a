// The notification types of product.md §10 (routes and the model read them; no store here).

export const NOTIFICATION_TYPES = [
  'task.assigned',
  'task.statusChanged',
  'comment.created',
  'mention',
  'invitation.received',
  'member.roleChanged',
  'member.removed',
  'approval.requested',
  'approval.decided',
  'sprint.started',
  'sprint.completed',
  'announcement.posted',
  'webhook.disabled',
] as const;
