import { etagOf, type Route, route } from '@trellis/shared';
import { callerOf } from '../access/access.ts';
import {
  commentIdParams,
  commentListQuery,
  commentPageSchema,
  commentSchema,
  createCommentBody,
  updateCommentBody,
} from './comments.schemas.ts';
import type { CommentService } from './comments.service.ts';

const tags = ['comments'];
const notFound = { description: 'No such task or comment, or you cannot see its task' };

export function commentRoutes(comments: CommentService): Route[] {
  const id = (req: { params: Record<string, unknown> }) => String(req.params.id);
  return [
    route({
      method: 'post',
      path: '/api/v1/comments',
      policy: { scope: 'project', action: 'comment.create' },
      summary: 'Comment on a task (project policy comment.create); mentions written <@userId>',
      tags,
      body: createCommentBody,
      responses: {
        201: { description: 'Created comment (Location, ETag)', schema: commentSchema },
        403: { description: 'POLICY_DENIED (comment.create)' },
        404: notFound,
      },
      handle: async (req, res) => {
        const comment = await comments.create(callerOf(req), req.body);
        res.status(201).location(`/api/v1/comments/${comment.id}`).set('ETag', etagOf(comment)).json(comment);
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/comments',
      policy: 'access',
      summary: "A task's comments, oldest first (deleted ones as placeholders), keyset-paginated",
      tags,
      query: commentListQuery,
      responses: { 200: { description: 'Page of comments', schema: commentPageSchema }, 404: notFound },
      handle: async (req, res) => {
        res.json(await comments.list(callerOf(req), req.query));
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/comments/{id}',
      policy: 'access',
      summary: 'One comment (a deleted one as its placeholder), where its Location points',
      tags,
      params: commentIdParams,
      responses: { 200: { description: 'Comment (ETag)', schema: commentSchema }, 404: notFound },
      handle: async (req, res) => {
        const comment = await comments.get(callerOf(req), id(req));
        res.set('ETag', etagOf(comment)).json(comment);
      },
    }),
    route({
      method: 'patch',
      path: '/api/v1/comments/{id}',
      policy: 'personal',
      summary: 'Edit a comment (its author only; If-Match); sets editedAt',
      tags,
      params: commentIdParams,
      body: updateCommentBody,
      responses: {
        200: { description: 'Comment (ETag)', schema: commentSchema },
        403: { description: 'FORBIDDEN: not the author' },
        404: notFound,
        412: { description: 'If-Match does not match' },
      },
      handle: async (req, res) => {
        const comment = await comments.update(callerOf(req), id(req), req.body, req.get('if-match'));
        res.set('ETag', etagOf(comment)).json(comment);
      },
    }),
    route({
      method: 'delete',
      path: '/api/v1/comments/{id}',
      policy: { scope: 'project', action: 'comment.moderate' },
      summary: 'Delete a comment (its author, or project policy comment.moderate); a placeholder stays',
      tags,
      params: commentIdParams,
      responses: {
        204: { description: 'Deleted' },
        403: { description: 'POLICY_DENIED (comment.moderate)' },
        404: notFound,
      },
      handle: async (req, res) => {
        await comments.remove(callerOf(req), id(req));
        res.status(204).end();
      },
    }),
  ];
}
