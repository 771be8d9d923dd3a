import { etagOf, route } from '@trellis/shared';
import type { Route } from '@trellis/shared';
import { callerOf } from '../access/access.service.ts';
import { projectIdParams } from '../projects/projects.schemas.ts';
import {
  completeSprintBody,
  createSprintBody,
  reportSchema,
  sprintIdParams,
  sprintListQuery,
  sprintListSchema,
  sprintSchema,
  updateSprintBody,
  velocityQuery,
  velocitySchema,
  workloadSchema,
} from './sprints.schemas.ts';
import type { SprintReportService } from './sprint-reports.service.ts';
import type { SprintService } from './sprints.service.ts';

const tags = ['sprints'];
const notFound = { description: 'No such sprint or project, or you have no role on the project' };
const denied = { description: 'POLICY_DENIED (sprint.manage)' };

export function sprintRoutes(sprints: SprintService, reports: SprintReportService): Route[] {
  const id = (req: { params: Record<string, unknown> }) => String(req.params.id);
  return [
    route({
      method: 'post',
      path: '/api/v1/projects/{id}/sprints',
      policy: { scope: 'project', action: 'sprint.manage' },
      summary: 'Plan a sprint (policy sprint.manage)',
      tags,
      params: projectIdParams,
      body: createSprintBody,
      responses: {
        201: { description: 'Created sprint (Location)', schema: sprintSchema },
        403: denied,
        404: notFound,
      },
      handle: async (req, res) => {
        const sprint = await sprints.create(callerOf(req), id(req), req.body);
        res.status(201).location(`/api/v1/sprints/${sprint.id}`).set('ETag', etagOf(sprint)).json(sprint);
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/projects/{id}/sprints',
      policy: 'access',
      summary: 'Sprints of a project by start date, optionally of one state',
      tags,
      params: projectIdParams,
      query: sprintListQuery,
      responses: { 200: { description: 'Sprints', schema: sprintListSchema }, 404: notFound },
      handle: async (req, res) => {
        const query = req.query;
        res.json(await sprints.list(callerOf(req), id(req), query.state));
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/projects/{id}/velocity',
      policy: 'access',
      summary: 'Committed and completed points of the last N COMPLETED sprints, newest first',
      tags,
      params: projectIdParams,
      query: velocityQuery,
      responses: { 200: { description: 'Velocity', schema: velocitySchema }, 404: notFound },
      handle: async (req, res) => {
        const query = req.query;
        res.json(await reports.velocity(callerOf(req), id(req), query.last));
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/projects/{id}/workload',
      policy: 'access',
      summary: 'Open tasks and points per assignee (null = unassigned)',
      tags,
      params: projectIdParams,
      responses: { 200: { description: 'Workload', schema: workloadSchema }, 404: notFound },
      handle: async (req, res) => {
        res.json(await reports.workload(callerOf(req), id(req)));
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/sprints/{id}',
      policy: 'access',
      summary: 'A sprint',
      tags,
      params: sprintIdParams,
      responses: { 200: { description: 'Sprint', schema: sprintSchema }, 404: notFound },
      handle: async (req, res) => {
        const sprint = await sprints.get(callerOf(req), id(req));
        res.set('ETag', etagOf(sprint)).json(sprint);
      },
    }),
    route({
      method: 'patch',
      path: '/api/v1/sprints/{id}',
      policy: { scope: 'project', action: 'sprint.manage' },
      summary: 'Edit name, goal or dates of a PLANNED sprint (policy sprint.manage)',
      tags,
      params: sprintIdParams,
      body: updateSprintBody,
      responses: {
        200: { description: 'Sprint', schema: sprintSchema },
        403: denied,
        404: notFound,
        409: { description: 'Not PLANNED' },
        422: { description: 'endDate before startDate' },
      },
      handle: async (req, res) => {
        const sprint = await sprints.update(callerOf(req), id(req), req.body);
        res.set('ETag', etagOf(sprint)).json(sprint);
      },
    }),
    route({
      method: 'delete',
      path: '/api/v1/sprints/{id}',
      policy: { scope: 'project', action: 'sprint.manage' },
      summary: 'Delete a PLANNED sprint; its tasks go back to the backlog (policy sprint.manage)',
      tags,
      params: sprintIdParams,
      responses: {
        204: { description: 'Deleted' },
        403: denied,
        404: notFound,
        409: { description: 'Not PLANNED' },
      },
      handle: async (req, res) => {
        await sprints.remove(callerOf(req), id(req));
        res.status(204).end();
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/sprints/{id}/start',
      policy: { scope: 'project', action: 'sprint.manage' },
      summary: 'PLANNED → ACTIVE, freezing the committed scope (policy sprint.manage)',
      tags,
      params: sprintIdParams,
      responses: {
        200: { description: 'Sprint', schema: sprintSchema },
        403: denied,
        404: notFound,
        409: { description: 'Not PLANNED, or the project already has an ACTIVE sprint' },
      },
      handle: async (req, res) => {
        res.json(await sprints.start(callerOf(req), id(req)));
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/sprints/{id}/complete',
      policy: { scope: 'project', action: 'sprint.manage' },
      summary: 'ACTIVE → COMPLETED; open tasks move to a PLANNED sprint or the backlog (sprint.manage)',
      tags,
      params: sprintIdParams,
      body: completeSprintBody,
      responses: {
        200: { description: 'Sprint', schema: sprintSchema },
        403: denied,
        404: notFound,
        409: { description: 'Not ACTIVE' },
        422: { description: 'moveOpenTasksTo is not a PLANNED sprint of the project' },
      },
      handle: async (req, res) => {
        res.json(await sprints.complete(callerOf(req), id(req), req.body));
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/sprints/{id}/report',
      policy: 'access',
      summary: 'Committed, completed, added and removed points and the daily burndown',
      tags,
      params: sprintIdParams,
      responses: { 200: { description: 'Report', schema: reportSchema }, 404: notFound },
      handle: async (req, res) => {
        res.json(await reports.report(callerOf(req), id(req)));
      },
    }),
  ];
}
