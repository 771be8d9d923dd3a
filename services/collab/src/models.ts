import type { Connection } from 'mongoose';
import { announcementModel, announcementReadModel } from './announcements/announcement.model.ts';
import { channelModel } from './channels/channel.model.ts';
import { messageModel } from './channels/message.model.ts';
import { commentModel } from './comments/comment.model.ts';

/** Collab's own collections on its connection (the access projection has its own, `access_*`). */
export function collabModels(connection: Connection) {
  return {
    Comment: commentModel(connection),
    Channel: channelModel(connection),
    Message: messageModel(connection),
    Announcement: announcementModel(connection),
    AnnouncementRead: announcementReadModel(connection),
  };
}

export type CollabModels = ReturnType<typeof collabModels>;

/** The models whose documents stage events for the outbox relay. */
export function outboxModels(models: CollabModels) {
  return [models.Comment, models.Channel, models.Message, models.Announcement];
}

/** Builds every index (the unique ones guard idempotency) before anything relies on them. */
export async function initModels(models: CollabModels): Promise<void> {
  await Promise.all(Object.values(models).map((model) => model.init()));
}
