import { z } from 'zod';
import { limitSchema, verbatimText } from '@trellis/shared';
import { editableTextFields } from '../edits.ts';
import { CHANNEL_SCOPES } from './channel.model.ts';

const cursor = z.string().min(1).max(500).optional();

export const channelListQuery = z.object({ orgId: z.uuid(), limit: limitSchema, cursor });
export type ChannelListQuery = z.infer<typeof channelListQuery>;

export const channelSchema = z
  .object({
    id: z.uuid(),
    orgId: z.uuid(),
    scope: z.enum(CHANNEL_SCOPES),
    scopeId: z.uuid(),
    name: z.string(),
  })
  .meta({ id: 'Channel' });
export type ChannelView = z.infer<typeof channelSchema>;
export const channelPageSchema = z.object({
  items: z.array(channelSchema),
  nextCursor: z.string().nullable(),
});

/** Keyset position in an org's channel list: (rank, name, id). */
export const channelCursor = z.object({
  rank: z.number().int().min(0).max(2),
  name: z.string(),
  id: z.uuid(),
});

/** 1..4 000 characters, not only whitespace. */
const body = verbatimText(4_000);

export const messageBody = z.object({ body });
export type MessageBody = z.infer<typeof messageBody>;

export const channelIdParams = z.object({ id: z.uuid() });
export const messageIdParams = z.object({ id: z.uuid(), messageId: z.uuid() });
export const messageListQuery = z.object({ limit: limitSchema, cursor });
export type MessageListQuery = z.infer<typeof messageListQuery>;

export const messageSchema = z
  .object({
    id: z.uuid(),
    channelId: z.uuid(),
    orgId: z.uuid(),
    ...editableTextFields,
  })
  .meta({ id: 'Message' });
export type MessageView = z.infer<typeof messageSchema>;
export const messagePageSchema = z.object({
  items: z.array(messageSchema),
  nextCursor: z.string().nullable(),
});

/** Keyset position of the newest-first history. */
export const messageCursor = z.object({ createdAt: z.iso.datetime(), id: z.uuid() });
