import { z } from 'zod';
import { limitSchema, patchBody, text, verbatimText } from '@trellis/shared';

const title = text(200);
const body = verbatimText(10_000);

export const createAnnouncementBody = z.object({
  orgId: z.uuid(),
  title,
  body,
  pinned: z.boolean().default(false),
});
export type CreateAnnouncementBody = z.infer<typeof createAnnouncementBody>;

export const updateAnnouncementBody = patchBody({
  title: title.optional(),
  body: body.optional(),
  pinned: z.boolean().optional(),
});
export type UpdateAnnouncementBody = z.infer<typeof updateAnnouncementBody>;

export const announcementIdParams = z.object({ id: z.uuid() });

export const announcementListQuery = z.object({
  orgId: z.uuid(),
  limit: limitSchema,
  cursor: z.string().min(1).max(500).optional(),
});
export type AnnouncementListQuery = z.infer<typeof announcementListQuery>;

export const announcementSchema = z
  .object({
    id: z.uuid(),
    orgId: z.uuid(),
    authorId: z.uuid(),
    title: z.string(),
    body: z.string(),
    pinned: z.boolean(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    version: z.number().int().min(1),
  })
  .meta({ id: 'Announcement' });
export type AnnouncementView = z.infer<typeof announcementSchema>;
export const announcementPageSchema = z.object({
  items: z.array(announcementSchema),
  nextCursor: z.string().nullable(),
});

export const readReceiptSchema = z
  .object({
    announcementId: z.uuid(),
    userId: z.uuid(),
    readAt: z.iso.datetime(),
  })
  .meta({ id: 'ReadReceipt' });
export type ReadReceiptView = z.infer<typeof readReceiptSchema>;

export const readsSchema = z.object({
  readCount: z.number().int(),
  memberCount: z.number().int(),
  readers: z.array(z.object({ userId: z.uuid(), readAt: z.iso.datetime() })),
});
export type ReadsView = z.infer<typeof readsSchema>;

/** Keyset position of the board: (pinned, createdAt, id), all descending. */
export const announcementCursor = z.object({
  pinned: z.boolean(),
  createdAt: z.iso.datetime(),
  id: z.uuid(),
});
