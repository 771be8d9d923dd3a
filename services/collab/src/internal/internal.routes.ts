import { z } from 'zod';
import { route, type Route } from '@trellis/shared';
import type { ChannelService } from '../channels/channels.service.ts';

/**
 * Cluster-only, token-checked service-to-service routes, as work's (see its internal.routes.ts):
 * notify asks here for a chat channel it has not heard of yet.
 */
export function internalRoutes(channels: ChannelService): Route[] {
  return [
    route({
      method: 'get',
      path: '/internal/channels/{channelId}',
      summary: "A chat channel's scope, archived ones included",
      params: z.object({ channelId: z.uuid() }),
      responses: { 200: { description: 'Channel snapshot' }, 404: { description: 'No such channel' } },
      handle: async (req, res) => {
        res.json(await channels.snapshot(String(req.params.channelId)));
      },
    }),
  ];
}
