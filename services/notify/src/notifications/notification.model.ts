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
 * `seq` is its seq on the user's `user:<id>` channel (dense: 1, 2, 3 … per user) and `bucket` names
 * its run of `INBOX_BUCKET` seqs (see `bucketOf`).
 */
export interface Notification {
  _id: string;
  userId: string;
  seq: number;
  bucket: string;
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
    seq: { type: Number, required: true },
    bucket: { type: String, required: true },
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

// The inbox, newest first, a bucket at a time; marking all read and counting the unread.
notificationSchema.index({ bucket: 1, seq: -1 });
notificationSchema.index({ userId: 1, read: 1 });

export type NotificationModel = Model<Notification>;

/**
 * A user's notifications in runs of this many seqs. The inbox reads one run at a time by an
 * equality on `bucket`, so a page costs a run or two whatever the user holds in all — where a
 * filter on the user, sorted and limited, makes FerretDB v1 (the local store) read every one of
 * them (it sorts and limits in its own process).
 */
export const INBOX_BUCKET = 32;

export const bucketOf = (userId: string, seq: number): string =>
  `${userId}:${Math.floor(seq / INBOX_BUCKET)}`;

/**
 * A user's unread count, kept beside the notifications: raised when one is stored, lowered when
 * marked read (`$inc`, atomic on MongoDB). `version` moves with every change, so a recount only
 * lands when nothing changed meanwhile. FerretDB v1 applies an update as a read then a write, so
 * there concurrent changes can be lost: the count is recounted when older than a minute.
 */
export interface InboxCounter {
  _id: string;
  unread: number;
  version: number;
  countedAt: Date;
}

const inboxCounterSchema = new Schema<InboxCounter>(
  {
    _id: { type: String, required: true },
    unread: { type: Number, required: true },
    version: { type: Number, required: true },
    countedAt: { type: Date, required: true },
  },
  { collection: 'inbox_counters', versionKey: false },
);

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
  InboxCounter: Model<InboxCounter>;
  Preferences: PreferencesModel;
  TaskCommenters: Model<TaskCommenters>;
}

/**
 * Notifications stored before seqs were kept get them once: each user's, oldest first, seqs 1, 2 …
 * — below any seq their channel gives from now on, which is past every notification it carried
 * before (one each). A marker records that it was done, so later starts do not read the collection.
 * Run behind start-up (`main.ts`): on FerretDB v1 it takes minutes for hundreds of thousands, and
 * until it is done those users' inboxes list only what came after. Cut short (a stop, a crash), it
 * starts over at the next start: the notifications it gave seqs carry `seqGiven`, so each user's are
 * ranked again with the rest. Returns how many it gave seqs.
 */
export async function seqOldNotifications(connection: Connection, model: NotificationModel): Promise<number> {
  const markers = connection.collection<{ _id: string; at: Date }>('notify_migrations');
  if (await markers.findOne({ _id: 'inbox-seqs' })) return 0;
  // The driver's collection: `seqGiven` is no field of the schema, and mongoose would drop it.
  const raw = connection.collection<{
    _id: string;
    userId: string;
    createdAt: Date;
    bucket?: string;
    seqGiven?: boolean;
  }>(model.collection.collectionName);
  const byUser = new Map<string, Array<{ _id: string; createdAt: Date }>>();
  const cursor = raw.find({}, { projection: { userId: 1, bucket: 1, createdAt: 1, seqGiven: 1 } });
  for await (const doc of cursor) {
    if (typeof doc.bucket === 'string' && doc.seqGiven !== true) continue;
    const userId = String(doc.userId);
    const old = { _id: String(doc._id), createdAt: doc.createdAt as Date };
    const list = byUser.get(userId);
    if (list) list.push(old);
    else byUser.set(userId, [old]);
  }
  const updates = [...byUser].flatMap(([userId, docs]) =>
    docs
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a._id < b._id ? -1 : 1))
      .map(({ _id }, i) => ({
        updateOne: {
          filter: { _id },
          update: { $set: { seq: i + 1, bucket: bucketOf(userId, i + 1), seqGiven: true } },
        },
      })),
  );
  for (let from = 0; from < updates.length; from += 500)
    await raw.bulkWrite(updates.slice(from, from + 500), { ordered: false });
  await markers.insertOne({ _id: 'inbox-seqs', at: new Date() }).catch(() => undefined); // another replica's
  return updates.length;
}

export async function notifyModels(connection: Connection): Promise<NotifyModels> {
  const Notification = (connection.models.Notification ??
    connection.model<Notification>('Notification', notificationSchema)) as NotificationModel;
  const InboxCounter = (connection.models.InboxCounter ??
    connection.model<InboxCounter>('InboxCounter', inboxCounterSchema)) as Model<InboxCounter>;
  const Preferences = (connection.models.Preferences ??
    connection.model<Preferences>('Preferences', preferencesSchema)) as PreferencesModel;
  const TaskCommenters = (connection.models.TaskCommenters ??
    connection.model<TaskCommenters>('TaskCommenters', taskCommentersSchema)) as Model<TaskCommenters>;
  await Promise.all([Notification.init(), InboxCounter.init(), Preferences.init(), TaskCommenters.init()]);
  await moveOldCommenters(connection, TaskCommenters);
  return { Notification, InboxCounter, Preferences, TaskCommenters };
}
