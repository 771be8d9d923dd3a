import { z } from 'zod';
import { limitSchema, verbatimText } from '@trellis/shared';
import { editableTextFields } from '../edits.ts';

/** Markdown of 1..10 000 characters, not only whitespace. */
const body = verbatimText(10_000);

export const createCommentBody = z.object({ taskId: z.uuid(), body });
export type CreateCommentBody = z.infer<typeof createCommentBody>;

export const updateCommentBody = z.object({ body });
export type UpdateCommentBody = z.infer<typeof updateCommentBody>;

export const commentIdParams = z.object({ id: z.uuid() });

export const commentListQuery = z.object({
  taskId: z.uuid(),
  limit: limitSchema,
  cursor: z.string().min(1).max(500).optional(),
});
export type CommentListQuery = z.infer<typeof commentListQuery>;

export const commentSchema = z
  .object({
    id: z.uuid(),
    taskId: z.uuid(),
    projectId: z.uuid(),
    orgId: z.uuid(),
    ...editableTextFields,
  })
  .meta({ id: 'Comment' });
export type CommentView = z.infer<typeof commentSchema>;

export const commentPageSchema = z.object({
  items: z.array(commentSchema),
  nextCursor: z.string().nullable(),
});

/** Keyset position of the oldest-first thread. */
export const commentCursor = z.object({ createdAt: z.iso.datetime(), id: z.uuid() });
