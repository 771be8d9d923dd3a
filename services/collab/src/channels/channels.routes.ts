import { etagOf, type Route, route } from '@trellis/shared';
import { callerOf } from '../access/access.ts';
import {
  channelIdParams,
  channelListQuery,
  channelPageSchema,
  messageBody,
  messageIdParams,
  messageListQuery,
  messagePageSchema,
  messageSchema,
} from './channels.schemas.ts';
import type { ChannelService } from './channels.service.ts';
import type { MessageService } from './messages.service.ts';

const tags = ['channels'];
const notFound = { description: 'No such channel or message, archived, or you cannot read the channel' };

export function channelRoutes(channels: ChannelService, messages: MessageService): Route[] {
  const id = (req: { params: Record<string, unknown> }) => String(req.params.id);
  const messageId = (req: { params: Record<string, unknown> }) => String(req.params.messageId);
  return [
    route({
      method: 'get',
      path: '/api/v1/channels',
      policy: 'access',
      summary: "The org's channels I can read: general, then teams, then projects",
      tags,
      query: channelListQuery,
      responses: {
        200: { description: 'Page of channels', schema: channelPageSchema },
        404: { description: 'Not a member of the org' },
      },
      handle: async (req, res) => {
        res.json(await channels.list(callerOf(req), req.query));
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/channels/{id}/messages',
      policy: 'access',
      summary: "A channel's messages, newest first (deleted ones as placeholders), keyset-paginated",
      tags,
      params: channelIdParams,
      query: messageListQuery,
      responses: { 200: { description: 'Page of messages', schema: messagePageSchema }, 404: notFound },
      handle: async (req, res) => {
        res.json(await messages.list(callerOf(req), id(req), req.query));
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/channels/{id}/messages',
      policy: { scope: 'org', action: 'message.post' },
      summary: 'Post a message (org/team MEMBER, project CONTRIBUTOR); mentions written <@userId>',
      tags,
      params: channelIdParams,
      body: messageBody,
      responses: {
        201: { description: 'Created message (Location, ETag)', schema: messageSchema },
        403: { description: 'POLICY_DENIED (message.post)' },
        404: notFound,
      },
      handle: async (req, res) => {
        const message = await messages.post(callerOf(req), id(req), req.body);
        res
          .status(201)
          .location(`/api/v1/channels/${message.channelId}/messages/${message.id}`)
          .set('ETag', etagOf(message))
          .json(message);
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/channels/{id}/messages/{messageId}',
      policy: 'access',
      summary: 'One message (a deleted one as its placeholder), where its Location points',
      tags,
      params: messageIdParams,
      responses: { 200: { description: 'Message (ETag)', schema: messageSchema }, 404: notFound },
      handle: async (req, res) => {
        const message = await messages.get(callerOf(req), id(req), messageId(req));
        res.set('ETag', etagOf(message)).json(message);
      },
    }),
    route({
      method: 'patch',
      path: '/api/v1/channels/{id}/messages/{messageId}',
      policy: 'personal',
      summary: 'Edit a message (its author only; If-Match); sets editedAt',
      tags,
      params: messageIdParams,
      body: messageBody,
      responses: {
        200: { description: 'Message (ETag)', schema: messageSchema },
        403: { description: 'FORBIDDEN: not the author' },
        404: notFound,
        412: { description: 'If-Match does not match' },
      },
      handle: async (req, res) => {
        const ifMatch = req.get('if-match');
        const message = await messages.update(callerOf(req), id(req), messageId(req), req.body, ifMatch);
        res.set('ETag', etagOf(message)).json(message);
      },
    }),
    route({
      method: 'delete',
      path: '/api/v1/channels/{id}/messages/{messageId}',
      policy: 'personal',
      summary: 'Delete a message (its author only); a placeholder stays',
      tags,
      params: messageIdParams,
      responses: {
        204: { description: 'Deleted' },
        403: { description: 'FORBIDDEN: not the author' },
        404: notFound,
      },
      handle: async (req, res) => {
        await messages.remove(callerOf(req), id(req), messageId(req));
        res.status(204).end();
      },
    }),
  ];
}
