import { z } from 'zod';
import { defineEvent } from '../registry.ts';

// collab.comment (keyed by task id), collab.message (keyed by channel id) and collab.announcement
// (keyed by announcement id). Envelopes carry orgId and actorId; bodies are the users' own text.

const mentions = z.array(z.uuid());

const commentData = z.object({
  commentId: z.uuid(),
  orgId: z.uuid(),
  projectId: z.uuid(),
  taskId: z.uuid(),
  authorId: z.uuid(),
  body: z.string(),
  mentions,
});

export const commentCreated = defineEvent({
  type: 'comment.created',
  topic: 'collab.comment',
  version: 1,
  data: commentData,
});
/** `addedMentions`: the users this edit mentions for the first time (only they are notified). */
export const commentUpdated = defineEvent({
  type: 'comment.updated',
  topic: 'collab.comment',
  version: 1,
  data: commentData.extend({ editedAt: z.iso.datetime(), addedMentions: mentions }),
});
/** The body is gone (a placeholder stays in the thread). */
export const commentDeleted = defineEvent({
  type: 'comment.deleted',
  topic: 'collab.comment',
  version: 1,
  data: z.object({
    commentId: z.uuid(),
    orgId: z.uuid(),
    projectId: z.uuid(),
    taskId: z.uuid(),
    authorId: z.uuid(),
  }),
});

const channelScope = z.enum(['org', 'team', 'project']);

/** A chat channel, created by collab when its org, team or project appears. */
export const channelCreated = defineEvent({
  type: 'channel.created',
  topic: 'collab.message',
  version: 1,
  data: z.object({
    channelId: z.uuid(),
    orgId: z.uuid(),
    scope: channelScope,
    scopeId: z.uuid(),
    name: z.string().min(1),
  }),
});
/** Its team or project was deleted; the channel is hidden (kept, like every soft-deleted thing). */
export const channelArchived = defineEvent({
  type: 'channel.archived',
  topic: 'collab.message',
  version: 1,
  data: z.object({ channelId: z.uuid(), orgId: z.uuid(), scope: channelScope, scopeId: z.uuid() }),
});

const messageData = z.object({
  messageId: z.uuid(),
  channelId: z.uuid(),
  orgId: z.uuid(),
  scope: channelScope,
  scopeId: z.uuid(),
  authorId: z.uuid(),
  body: z.string(),
  mentions,
});

export const messageCreated = defineEvent({
  type: 'message.created',
  topic: 'collab.message',
  version: 1,
  data: messageData,
});
export const messageUpdated = defineEvent({
  type: 'message.updated',
  topic: 'collab.message',
  version: 1,
  data: messageData.extend({ editedAt: z.iso.datetime(), addedMentions: mentions }),
});
export const messageDeleted = defineEvent({
  type: 'message.deleted',
  topic: 'collab.message',
  version: 1,
  data: z.object({
    messageId: z.uuid(),
    channelId: z.uuid(),
    orgId: z.uuid(),
    scope: channelScope,
    scopeId: z.uuid(),
    authorId: z.uuid(),
  }),
});

const announcementData = z.object({
  announcementId: z.uuid(),
  orgId: z.uuid(),
  authorId: z.uuid(),
  title: z.string().min(1),
  body: z.string(),
  pinned: z.boolean(),
});

export const announcementPosted = defineEvent({
  type: 'announcement.posted',
  topic: 'collab.announcement',
  version: 1,
  data: announcementData,
});
export const announcementUpdated = defineEvent({
  type: 'announcement.updated',
  topic: 'collab.announcement',
  version: 1,
  data: announcementData,
});
export const announcementDeleted = defineEvent({
  type: 'announcement.deleted',
  topic: 'collab.announcement',
  version: 1,
  data: z.object({ announcementId: z.uuid(), orgId: z.uuid() }),
});
