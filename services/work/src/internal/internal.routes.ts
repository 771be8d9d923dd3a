import { z } from 'zod';
import { route, type Route } from '@trellis/shared';
import type { InternalService } from './internal.service.ts';

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
      path: '/internal/projects/{projectId}',
      summary: 'A project with its explicit members and settings, soft-deleted ones included',
      params: z.object({ projectId: z.uuid() }),
      responses: { 200: { description: 'Project snapshot' }, 404: { description: 'No such project' } },
      handle: async (req, res) => {
        res.json(await internal.project(String(req.params.projectId)));
      },
    }),
    route({
      method: 'get',
      path: '/internal/tasks/{taskId}',
      summary: 'A task with its project snapshot, soft-deleted ones included',
      params: z.object({ taskId: z.uuid() }),
      responses: { 200: { description: 'Task snapshot' }, 404: { description: 'No such task' } },
      handle: async (req, res) => {
        res.json(await internal.task(String(req.params.taskId)));
      },
    }),
  ];
}
