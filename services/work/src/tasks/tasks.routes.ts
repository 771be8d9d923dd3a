import { etagOf, route } from '@trellis/shared';
import type { Route } from '@trellis/shared';
import { callerOf } from '../access/access.service.ts';
import { projectIdParams } from '../projects/projects.schemas.ts';
import {
  activityPageSchema,
  createTaskBody,
  crossTaskListQuery,
  lookupQuery,
  pageQuery,
  taskIdParams,
  taskListQuery,
  taskPageSchema,
  taskSchema,
  updateTaskBody,
} from './tasks.schemas.ts';
import type { TaskQueryService } from './task-queries.service.ts';
import type { TaskService } from './tasks.service.ts';

const tags = ['tasks'];
const notFound = { description: 'No such task or project, deleted, or you have no role on the project' };
const denied = { description: 'POLICY_DENIED' };
export function taskRoutes(tasks: TaskService, queries: TaskQueryService): Route[] {
  const id = (req: { params: Record<string, unknown> }) => String(req.params.id);
  return [
    route({
      method: 'post',
      path: '/api/v1/projects/{id}/tasks',
      policy: { scope: 'project', action: 'task.create' },
      summary: 'Create a task (policy task.create); numbered KEY-n, gap-free per project',
      tags,
      params: projectIdParams,
      body: createTaskBody,
      responses: {
        201: { description: 'Created task (Location, ETag)', schema: taskSchema },
        403: denied,
        404: notFound,
        409: { description: 'The project is ARCHIVED or waiting for approval' },
        422: { description: 'Parent not in the project, or assignee below CONTRIBUTOR' },
      },
      handle: async (req, res) => {
        const task = await tasks.create(callerOf(req), id(req), req.body);
        res.status(201).location(`/api/v1/tasks/${task.id}`).set('ETag', etagOf(task)).json(task);
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/projects/{id}/tasks',
      policy: 'access',
      summary: 'Tasks of a project, filtered and sorted (default -updatedAt), keyset-paginated',
      tags,
      params: projectIdParams,
      query: taskListQuery,
      responses: { 200: { description: 'Page of tasks', schema: taskPageSchema }, 404: notFound },
      handle: async (req, res) => {
        res.json(await queries.list(callerOf(req), id(req), req.query));
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/projects/{id}/activity',
      policy: 'access',
      summary: 'Field changes of every task of the project, oldest first',
      tags,
      params: projectIdParams,
      query: pageQuery,
      responses: { 200: { description: 'Page of activity', schema: activityPageSchema }, 404: notFound },
      handle: async (req, res) => {
        res.json(await queries.projectActivity(callerOf(req), id(req), req.query));
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/tasks',
      policy: 'access',
      summary: 'Tasks across the projects of an org I can see (e.g. assigneeId=me), same filters',
      tags,
      query: crossTaskListQuery,
      responses: {
        200: { description: 'Page of tasks', schema: taskPageSchema },
        404: { description: 'Not an org member' },
      },
      handle: async (req, res) => {
        res.json(await queries.listAcross(callerOf(req), req.query));
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/tasks/lookup',
      policy: 'access',
      summary: 'One task by its key (PROJ-12) within an org',
      tags,
      query: lookupQuery,
      responses: { 200: { description: 'Task (ETag)', schema: taskSchema }, 404: notFound },
      handle: async (req, res) => {
        const query = req.query;
        const task = await queries.lookup(callerOf(req), query.orgId, query.key);
        res.set('ETag', etagOf(task)).json(task);
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/tasks/{id}',
      policy: 'access',
      summary: 'A task',
      tags,
      params: taskIdParams,
      responses: { 200: { description: 'Task (ETag)', schema: taskSchema }, 404: notFound },
      handle: async (req, res) => {
        const task = await queries.get(callerOf(req), id(req));
        res.set('ETag', etagOf(task)).json(task);
      },
    }),
    route({
      method: 'patch',
      path: '/api/v1/tasks/{id}',
      policy: { scope: 'project', action: 'task.update' },
      summary: 'Update a task (task.update, or its creator/assignee; onlyAssigneeCanUpdateTask; If-Match)',
      tags,
      params: taskIdParams,
      body: updateTaskBody,
      responses: {
        200: { description: 'Task (ETag)', schema: taskSchema },
        403: denied,
        404: notFound,
        412: { description: 'If-Match does not match' },
        422: { description: 'Parent cycle or not in the project; assignee below CONTRIBUTOR' },
      },
      handle: async (req, res) => {
        const task = await tasks.update(callerOf(req), id(req), req.body, req.get('if-match'));
        res.set('ETag', etagOf(task)).json(task);
      },
    }),
    route({
      method: 'delete',
      path: '/api/v1/tasks/{id}',
      policy: { scope: 'project', action: 'task.delete' },
      summary: 'Delete a task and its subtasks (policy task.delete; soft)',
      tags,
      params: taskIdParams,
      responses: { 204: { description: 'Deleted' }, 403: denied, 404: notFound },
      handle: async (req, res) => {
        await tasks.remove(callerOf(req), id(req));
        res.status(204).end();
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/tasks/{id}/restore',
      policy: { scope: 'project', action: 'task.delete' },
      summary: 'Restore a deleted task with the subtasks deleted with it (policy task.delete, 30 days)',
      tags,
      params: taskIdParams,
      responses: {
        200: { description: 'Task', schema: taskSchema },
        403: denied,
        404: notFound,
        409: { description: 'Not deleted, or its parent is' },
      },
      handle: async (req, res) => {
        const task = await tasks.restore(callerOf(req), id(req));
        res.set('ETag', etagOf(task)).json(task);
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/tasks/{id}/subtasks',
      policy: 'access',
      summary: 'Direct subtasks of a task',
      tags,
      params: taskIdParams,
      responses: { 200: { description: 'Subtasks', schema: taskPageSchema }, 404: notFound },
      handle: async (req, res) => {
        res.json(await queries.subtasks(callerOf(req), id(req)));
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/tasks/{id}/activity',
      policy: 'access',
      summary: "The task's field changes [{at, actorId, field, from, to}], oldest first",
      tags,
      params: taskIdParams,
      query: pageQuery,
      responses: { 200: { description: 'Page of activity', schema: activityPageSchema }, 404: notFound },
      handle: async (req, res) => {
        res.json(await queries.activity(callerOf(req), id(req), req.query));
      },
    }),
  ];
}
