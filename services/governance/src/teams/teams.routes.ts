import { currentUser, type Route, route } from '@trellis/shared';
import { isPending } from '../approvals/approval-gate.ts';
import { pendingApprovalSchema } from '../approvals/approvals.schemas.ts';
import { orgIdParams, transferOwnershipBody } from '../orgs/orgs.schemas.ts';
import { etagOf } from '../orgs/orgs.views.ts';
import type { TeamMemberService } from './team-members.service.ts';
import {
  addTeamMemberBody,
  changeTeamRoleBody,
  createTeamBody,
  teamIdParams,
  teamMemberPageSchema,
  teamMemberParams,
  teamMemberSchema,
  teamPageQuery,
  teamPageSchema,
  teamSchema,
  updateTeamBody,
} from './teams.schemas.ts';
import type { TeamService } from './teams.service.ts';

const tags = ['teams'];
const notFound = { description: 'No such team or org, deleted, or you are not an org member' };
const denied = { description: 'POLICY_DENIED or FORBIDDEN (membership rules)' };

export function teamRoutes(teams: TeamService, members: TeamMemberService): Route[] {
  return [
    route({
      method: 'post',
      path: '/api/v1/orgs/{orgId}/teams',
      policy: { scope: 'org', action: 'team.create' },
      summary: 'Create a team (policy team.create, plan limit); the creator becomes its OWNER',
      tags,
      params: orgIdParams,
      body: createTeamBody,
      responses: {
        201: { description: 'Created team (Location, ETag)', schema: teamSchema },
        202: {
          description: 'requireApproval.teamCreation: waiting for approval',
          schema: pendingApprovalSchema,
        },
        403: denied,
        404: notFound,
        409: { description: 'LIMIT_REACHED, or CONFLICT: the name is taken' },
      },
      handle: async (req, res) => {
        const team = await teams.create(currentUser(req).id, String(req.params.orgId), req.body);
        if (isPending(team)) {
          res.status(202).json(team);
          return;
        }
        res.status(201).location(`/api/v1/teams/${team.id}`).set('ETag', etagOf(team)).json(team);
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/orgs/{orgId}/teams',
      policy: 'access',
      summary: 'Teams of an org, each with my effective team role',
      tags,
      params: orgIdParams,
      query: teamPageQuery,
      responses: { 200: { description: 'Page of teams', schema: teamPageSchema }, 404: notFound },
      handle: async (req, res) => {
        res.json(await teams.list(currentUser(req).id, String(req.params.orgId), req.query));
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/teams/{teamId}',
      policy: 'access',
      summary: 'A team of an org I belong to',
      tags,
      params: teamIdParams,
      responses: { 200: { description: 'Team (ETag)', schema: teamSchema }, 404: notFound },
      handle: async (req, res) => {
        const team = await teams.get(currentUser(req).id, String(req.params.teamId));
        res.set('ETag', etagOf(team)).json(team);
      },
    }),
    route({
      method: 'patch',
      path: '/api/v1/teams/{teamId}',
      policy: { scope: 'team', action: 'team.update' },
      summary: 'Rename or describe a team (team MANAGER+; honours If-Match)',
      tags,
      params: teamIdParams,
      body: updateTeamBody,
      responses: {
        200: { description: 'Team (ETag)', schema: teamSchema },
        403: denied,
        404: notFound,
        409: { description: 'The name is taken' },
        412: { description: 'If-Match does not match' },
      },
      handle: async (req, res) => {
        const team = await teams.update(
          currentUser(req).id,
          String(req.params.teamId),
          req.body,
          req.get('if-match'),
        );
        res.set('ETag', etagOf(team)).json(team);
      },
    }),
    route({
      method: 'delete',
      path: '/api/v1/teams/{teamId}',
      policy: { scope: 'team', action: 'team.delete' },
      summary: 'Delete a team (team MANAGER+; soft)',
      tags,
      params: teamIdParams,
      responses: { 204: { description: 'Deleted' }, 403: denied, 404: notFound },
      handle: async (req, res) => {
        await teams.remove(currentUser(req).id, String(req.params.teamId));
        res.status(204).end();
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/teams/{teamId}/transfer-ownership',
      policy: { scope: 'team', action: 'team.transferOwnership' },
      summary: 'Hand the team to one of its members (team owner, or the org OWNER); old owner → MANAGER',
      tags,
      params: teamIdParams,
      body: transferOwnershipBody,
      responses: {
        200: { description: 'Team', schema: teamSchema },
        403: denied,
        404: notFound,
        422: { description: 'The target is not a member of the team' },
      },
      handle: async (req, res) => {
        const team = await teams.transferOwnership(
          currentUser(req).id,
          String(req.params.teamId),
          req.body.userId,
        );
        res.set('ETag', etagOf(team)).json(team);
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/teams/{teamId}/members',
      policy: 'access',
      summary: 'Members of a team',
      tags,
      params: teamIdParams,
      query: teamPageQuery,
      responses: {
        200: { description: 'Page of team members', schema: teamMemberPageSchema },
        404: notFound,
      },
      handle: async (req, res) => {
        res.json(await members.list(currentUser(req).id, String(req.params.teamId), req.query));
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/teams/{teamId}/members',
      policy: { scope: 'team', action: 'member.add' },
      summary: 'Add an org member to the team (policy member.add; a role below your own)',
      tags,
      params: teamIdParams,
      body: addTeamMemberBody,
      responses: {
        201: { description: 'Team member (Location)', schema: teamMemberSchema },
        403: denied,
        404: notFound,
        409: { description: 'Already on the team' },
        422: { description: 'The user is not a member of the org' },
      },
      handle: async (req, res) => {
        const teamId = String(req.params.teamId);
        const member = await members.add(currentUser(req).id, teamId, req.body.userId, req.body.role);
        res.status(201).location(`/api/v1/teams/${teamId}/members/${member.userId}`).json(member);
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/teams/{teamId}/members/{userId}',
      policy: 'access',
      summary: 'One member of a team, where its Location points',
      tags,
      params: teamMemberParams,
      responses: { 200: { description: 'Team member', schema: teamMemberSchema }, 404: notFound },
      handle: async (req, res) => {
        res.json(
          await members.get(currentUser(req).id, String(req.params.teamId), String(req.params.userId)),
        );
      },
    }),
    route({
      method: 'patch',
      path: '/api/v1/teams/{teamId}/members/{userId}',
      policy: { scope: 'team', action: 'member.updateRole' },
      summary: "Change a team member's role (policy member.updateRole + membership rules)",
      tags,
      params: teamMemberParams,
      body: changeTeamRoleBody,
      responses: {
        200: { description: 'Team member', schema: teamMemberSchema },
        403: denied,
        404: notFound,
        409: { description: 'OWNER_MUST_TRANSFER: the owner keeps the role until a transfer' },
        422: { description: 'OWNER is only given by an ownership transfer' },
      },
      handle: async (req, res) => {
        const { teamId, userId } = req.params;
        res.json(await members.changeRole(currentUser(req).id, teamId, userId, req.body.role));
      },
    }),
    route({
      method: 'delete',
      path: '/api/v1/teams/{teamId}/members/{userId}',
      policy: { scope: 'team', action: 'member.remove' },
      summary: 'Remove a team member, or leave the team (your own id)',
      tags,
      params: teamMemberParams,
      responses: {
        204: { description: 'Removed' },
        403: denied,
        404: notFound,
        409: { description: 'OWNER_MUST_TRANSFER' },
      },
      handle: async (req, res) => {
        const { teamId, userId } = req.params;
        await members.remove(currentUser(req).id, teamId, userId);
        res.status(204).end();
      },
    }),
  ];
}
