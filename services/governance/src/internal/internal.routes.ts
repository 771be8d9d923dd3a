import { z } from 'zod';
import { route, type Route } from '@trellis/shared';
import type { InternalService } from './internal.service.ts';

const params = z.object({ orgId: z.uuid(), userId: z.uuid() });

/**
 * Service-to-service routes: outside `/api/v1`, so the gateway never routes them, and left out of
 * the public OpenAPI document. They must only be reachable inside the cluster (no Ingress rule);
 * they still require a valid access token (the calling service forwards its caller's), because no
 * service trusts the network.
 */
export function internalRoutes(internal: InternalService): Route[] {
  return [
    route({
      method: 'get',
      path: '/internal/orgs/{orgId}/members/{userId}',
      summary: "A user's org role, team roles and the settings that govern them",
      params,
      responses: { 200: { description: 'Membership' }, 404: { description: 'Not a member of a live org' } },
      handle: async (req, res) => {
        res.json(await internal.membership(String(req.params.orgId), String(req.params.userId)));
      },
    }),
  ];
}
