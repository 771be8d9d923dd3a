import { z } from 'zod';
import type { Route } from '@trellis/shared';
import type { ChannelService } from '../channels/channels.service.ts';

/**
 * Service-to-service routes: outside `/api/v1`, so the gateway never routes them, and left out of
 * the public OpenAPI document. They must only be reachable inside the cluster (no Ingress rule);
 * they still require a valid access token (the calling service forwards its caller's), because no
 * service trusts the network. notify asks here for a chat channel it has not heard of yet.
 */
export function internalRoutes(channels: ChannelService): Route[] {
  return [
    {
      method: 'get',
      path: '/internal/channels/{channelId}',
      summary: "A chat channel's scope, archived ones included",
      params: z.object({ channelId: z.uuid() }),
      responses: { 200: { description: 'Channel snapshot' }, 404: { description: 'No such channel' } },
      handle: async (req, res) => {
        res.json(await channels.snapshot(String(req.params.channelId)));
      },
    },
  ];
}
