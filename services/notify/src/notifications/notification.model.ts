import { Schema, type Connection, type Model } from 'mongoose';

/** api.md §6. */
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
] as const;

export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

export interface Subject {
  kind:
    | 'task'
    | 'comment'
    | 'message'
    | 'org'
    | 'team'
    | 'project'
    | 'invitation'
    | 'approval'
    | 'sprint'
    | 'announcement';
  id: string;
}

/**
 * One notification for one user. `_id` is derived from (event id, recipient), so a redelivered
 * event finds the notification it already created: idempotent per (event, recipient).
 */
export interface Notification {
  _id: string;
  userId: string;
  orgId: string | null;
  type: NotificationType;
  title: string;
  body: string;
  subject: Subject;
  actorId: string | null;
  eventId: string;
  read: boolean;
  readAt: Date | null;
  createdAt: Date;
}

const notificationSchema = new Schema<Notification>(
  {
    _id: { type: String, required: true },
    userId: { type: String, required: true },
    orgId: { type: String, default: null },
    type: { type: String, required: true, enum: NOTIFICATION_TYPES },
    title: { type: String, required: true },
    body: { type: String, default: '' },
    subject: {
      kind: { type: String, required: true },
      id: { type: String, required: true },
    },
    actorId: { type: String, default: null },
    eventId: { type: String, required: true },
    read: { type: Boolean, required: true, default: false },
    readAt: { type: Date, default: null },
    createdAt: { type: Date, required: true },
  },
  { collection: 'notifications', versionKey: false },
);

// The inbox, newest first (keyset on createdAt, _id), and the unread count.
notificationSchema.index({ userId: 1, createdAt: -1, _id: -1 });
notificationSchema.index({ userId: 1, read: 1 });

export type NotificationModel = Model<Notification>;

/** Mail and in-app switches per type (api.md §6). */
export interface Preferences {
  _id: string;
  inApp: Partial<Record<NotificationType, boolean>>;
  email: Partial<Record<NotificationType, boolean>>;
  updatedAt: Date;
}

const preferencesSchema = new Schema<Preferences>(
  {
    _id: { type: String, required: true },
    inApp: { type: Schema.Types.Mixed, default: {} },
    email: { type: Schema.Types.Mixed, default: {} },
    updatedAt: { type: Date, required: true },
  },
  { collection: 'notification_preferences', versionKey: false, minimize: false },
);

export type PreferencesModel = Model<Preferences>;

/** Who commented on a task (the "tasks you commented on" trigger), `_id` = `<taskId>:<userId>`. */
export interface Commenter {
  _id: string;
  taskId: string;
  userId: string;
}

const commenterSchema = new Schema<Commenter>(
  {
    _id: { type: String, required: true },
    taskId: { type: String, required: true, index: true },
    userId: { type: String, required: true },
  },
  { collection: 'task_commenters', versionKey: false },
);

export interface NotifyModels {
  Notification: NotificationModel;
  Preferences: PreferencesModel;
  Commenter: Model<Commenter>;
}

export async function notifyModels(connection: Connection): Promise<NotifyModels> {
  const Notification = (connection.models.Notification ??
    connection.model<Notification>('Notification', notificationSchema)) as NotificationModel;
  const Preferences = (connection.models.Preferences ??
    connection.model<Preferences>('Preferences', preferencesSchema)) as PreferencesModel;
  const Commenter = (connection.models.Commenter ??
    connection.model<Commenter>('Commenter', commenterSchema)) as Model<Commenter>;
  await Promise.all([Notification.init(), Preferences.init(), Commenter.init()]);
  return { Notification, Preferences, Commenter };
}
