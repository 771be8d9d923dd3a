import { Schema, type Connection, type Model } from 'mongoose';
import { NOTIFICATION_TYPES } from './notification-types.ts';

/** api.md §6. */
export { NOTIFICATION_TYPES };

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
    | 'announcement'
    | 'webhook';
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

/** Who commented on a task (the "tasks you commented on" trigger): one document per task, `_id` = task id. */
export interface TaskCommenters {
  _id: string;
  userIds: string[];
}

const taskCommentersSchema = new Schema<TaskCommenters>(
  {
    _id: { type: String, required: true },
    userIds: { type: [String], default: [] },
  },
  { collection: 'task_commenter_sets', versionKey: false },
);

/** The earlier shape: one document per (task, commenter), found by a filter on `taskId` (a scan on FerretDB v1). */
const OLD_COMMENTERS = 'task_commenters';

/** Moves what the earlier shape holds into the per-task sets, once, then drops it (idempotent: `$addToSet`). */
async function moveOldCommenters(connection: Connection, model: Model<TaskCommenters>): Promise<void> {
  const old = connection.collection<{ taskId: string; userId: string }>(OLD_COMMENTERS);
  const rows = await old.find({}).toArray();
  if (rows.length === 0) return;
  const byTask = new Map<string, string[]>();
  for (const { taskId, userId } of rows) {
    const userIds = byTask.get(taskId);
    if (userIds) userIds.push(userId);
    else byTask.set(taskId, [userId]);
  }
  await model.bulkWrite(
    [...byTask].map(([taskId, userIds]) => ({
      updateOne: {
        filter: { _id: taskId },
        update: { $addToSet: { userIds: { $each: userIds } } },
        upsert: true,
      },
    })),
  );
  // Another replica may have dropped it meanwhile.
  await old.drop().catch(() => undefined);
}

export interface NotifyModels {
  Notification: NotificationModel;
  Preferences: PreferencesModel;
  TaskCommenters: Model<TaskCommenters>;
}

export async function notifyModels(connection: Connection): Promise<NotifyModels> {
  const Notification = (connection.models.Notification ??
    connection.model<Notification>('Notification', notificationSchema)) as NotificationModel;
  const Preferences = (connection.models.Preferences ??
    connection.model<Preferences>('Preferences', preferencesSchema)) as PreferencesModel;
  const TaskCommenters = (connection.models.TaskCommenters ??
    connection.model<TaskCommenters>('TaskCommenters', taskCommentersSchema)) as Model<TaskCommenters>;
  await Promise.all([Notification.init(), Preferences.init(), TaskCommenters.init()]);
  await moveOldCommenters(connection, TaskCommenters);
  return { Notification, Preferences, TaskCommenters };
}
