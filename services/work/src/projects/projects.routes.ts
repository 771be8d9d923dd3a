import { projectSettingsPatchSchema, type Route, etagOf, route } from '@trellis/shared';
import { callerOf } from '../access/access.service.ts';
import {
  addProjectMemberBody,
  transferOwnershipBody,
  changeProjectRoleBody,
  createProjectBody,
  memberPageQuery,
  pendingProjectSchema,
  projectIdParams,
  projectListQuery,
  projectMemberPageSchema,
  projectMemberParams,
  projectMemberSchema,
  projectPageSchema,
  projectSchema,
  updateProjectBody,
} from './projects.schemas.ts';
import type { ProjectMemberService } from './project-members.service.ts';
import type { ProjectSettingsService } from './project-settings.service.ts';
import { isPendingProject, type ProjectService } from './projects.service.ts';

const tags = ['projects'];
const notFound = { description: 'No such project, deleted, or you have no role on it' };
const denied = { description: 'POLICY_DENIED or FORBIDDEN (membership rules)' };
export function projectRoutes(
  projects: ProjectService,
  members: ProjectMemberService,
  settings: ProjectSettingsService,
): Route[] {
  const id = (req: { params: Record<string, unknown> }) => String(req.params.id);
  return [
    route({
      method: 'post',
      path: '/api/v1/projects',
      policy: { scope: 'org', action: 'project.create' },
      summary: 'Create a project (org and team project.create, plan limit); the creator becomes its OWNER',
      tags,
      body: createProjectBody,
      responses: {
        201: { description: 'Created project (Location, ETag)', schema: projectSchema },
        202: {
          description: 'requireApproval.projectCreation: waiting for approval',
          schema: pendingProjectSchema,
        },
        403: denied,
        404: { description: 'No such org or team, or you are not an org member' },
        409: { description: 'LIMIT_REACHED, or CONFLICT: the key is taken' },
      },
      handle: async (req, res) => {
        const created = await projects.create(callerOf(req), req.body);
        if (isPendingProject(created)) {
          res.status(202).json(created);
          return;
        }
        res.status(201).location(`/api/v1/projects/${created.id}`).set('ETag', etagOf(created)).json(created);
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/projects',
      policy: 'self',
      summary: 'Projects I can see (effective project role), oldest first',
      tags,
      query: projectListQuery,
      responses: { 200: { description: 'Page of projects', schema: projectPageSchema } },
      handle: async (req, res) => {
        res.json(await projects.list(callerOf(req), req.query));
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/projects/{id}',
      policy: 'access',
      summary: 'A project I can see, with my effective role',
      tags,
      params: projectIdParams,
      responses: { 200: { description: 'Project (ETag)', schema: projectSchema }, 404: notFound },
      handle: async (req, res) => {
        const project = await projects.get(callerOf(req), id(req));
        res.set('ETag', etagOf(project)).json(project);
      },
    }),
    route({
      method: 'patch',
      path: '/api/v1/projects/{id}',
      policy: { scope: 'project', action: 'project.update' },
      summary: 'Edit a project (project MANAGER+; honours If-Match)',
      tags,
      params: projectIdParams,
      body: updateProjectBody,
      responses: {
        200: { description: 'Project (ETag)', schema: projectSchema },
        403: denied,
        404: notFound,
        409: { description: 'The project waits for approval' },
        412: { description: 'If-Match does not match' },
        422: { description: 'teamId names no team of this organization' },
      },
      handle: async (req, res) => {
        const project = await projects.update(callerOf(req), id(req), req.body, req.get('if-match'));
        res.set('ETag', etagOf(project)).json(project);
      },
    }),
    route({
      method: 'delete',
      path: '/api/v1/projects/{id}',
      policy: { scope: 'project', action: 'project.delete' },
      summary: 'Delete a project (project MANAGER+; soft, restorable for 30 days)',
      tags,
      params: projectIdParams,
      responses: { 204: { description: 'Deleted' }, 403: denied, 404: notFound },
      handle: async (req, res) => {
        await projects.remove(callerOf(req), id(req));
        res.status(204).end();
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/projects/{id}/restore',
      policy: { scope: 'project', action: 'project.restore' },
      summary: 'Restore a deleted project (project MANAGER+, within 30 days, key still free)',
      tags,
      params: projectIdParams,
      responses: {
        200: { description: 'Project', schema: projectSchema },
        403: denied,
        404: notFound,
        409: { description: 'Not deleted, or the key is taken now' },
      },
      handle: async (req, res) => {
        const project = await projects.restore(callerOf(req), id(req));
        res.set('ETag', etagOf(project)).json(project);
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/projects/{id}/members',
      policy: 'access',
      summary: 'Everyone with an effective role on the project, with its source',
      tags,
      params: projectIdParams,
      query: memberPageQuery,
      responses: { 200: { description: 'Page of members', schema: projectMemberPageSchema }, 404: notFound },
      handle: async (req, res) => {
        res.json(await members.members(callerOf(req), id(req), req.query));
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/projects/{id}/members',
      policy: { scope: 'project', action: 'member.add' },
      summary: 'Add an org member to the project (policy member.add; role below your own)',
      tags,
      params: projectIdParams,
      body: addProjectMemberBody,
      responses: {
        201: { description: 'Member', schema: projectMemberSchema.omit({ name: true, email: true }) },
        403: denied,
        404: notFound,
        409: { description: 'Already a member' },
        422: { description: 'Not an org member, or OWNER given' },
      },
      handle: async (req, res) => {
        res.status(201).json(await members.addMember(callerOf(req), id(req), req.body));
      },
    }),
    route({
      method: 'patch',
      path: '/api/v1/projects/{id}/members/{userId}',
      policy: { scope: 'project', action: 'member.updateRole' },
      summary: "Change an explicit member's role (policy member.updateRole; membership rules)",
      tags,
      params: projectMemberParams,
      body: changeProjectRoleBody,
      responses: {
        200: { description: 'Member', schema: projectMemberSchema.omit({ name: true, email: true }) },
        403: denied,
        404: notFound,
        409: { description: 'OWNER_MUST_TRANSFER' },
        422: { description: 'OWNER is only given by an ownership transfer' },
      },
      handle: async (req, res) => {
        const body = req.body;
        res.json(await members.changeRole(callerOf(req), id(req), String(req.params.userId), body.role));
      },
    }),
    route({
      method: 'delete',
      path: '/api/v1/projects/{id}/members/{userId}',
      policy: { scope: 'project', action: 'member.remove' },
      summary: 'Remove an explicit member, or leave (policy member.remove; membership rules)',
      tags,
      params: projectMemberParams,
      responses: {
        204: { description: 'Removed' },
        403: denied,
        404: notFound,
        409: { description: 'OWNER_MUST_TRANSFER' },
      },
      handle: async (req, res) => {
        await members.removeMember(callerOf(req), id(req), String(req.params.userId));
        res.status(204).end();
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/projects/{id}/transfer-ownership',
      policy: { scope: 'project', action: 'project.transferOwnership' },
      summary: 'Hand the project to another explicit member (owner only); you become MANAGER',
      tags,
      params: projectIdParams,
      body: transferOwnershipBody,
      responses: {
        200: { description: 'Project, as you now see it', schema: projectSchema },
        403: { description: 'Not the project owner' },
        404: notFound,
        422: { description: 'The target is not a member of the project' },
      },
      handle: async (req, res) => {
        const body = req.body;
        res.json(await members.transferOwnership(callerOf(req), id(req), body.userId));
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/projects/{id}/settings',
      policy: 'access',
      summary: "The project's settings and every threshold in force",
      tags,
      params: projectIdParams,
      responses: { 200: { description: 'Settings' }, 404: notFound },
      handle: async (req, res) => {
        res.json(await settings.settings(callerOf(req), id(req)));
      },
    }),
    route({
      method: 'patch',
      path: '/api/v1/projects/{id}/settings',
      policy: { scope: 'project', action: 'settings.update' },
      summary: 'Change thresholds, inherit, onlyAssigneeCanUpdateTask (project MANAGER+)',
      tags,
      params: projectIdParams,
      body: projectSettingsPatchSchema,
      responses: {
        200: { description: 'Settings' },
        403: denied,
        404: notFound,
        422: { description: 'A threshold outside its range' },
      },
      handle: async (req, res) => {
        res.json(await settings.updateSettings(callerOf(req), id(req), req.body));
      },
    }),
  ];
}
