import { currentUser, type Route, route } from '@trellis/shared';
import { isPending } from '../approvals/approval-gate.ts';
import { pendingApprovalSchema } from '../approvals/approvals.schemas.ts';
import { orgIdParams } from '../orgs/orgs.schemas.ts';
import {
  changeRoleBody,
  listMembersQuery,
  memberPageSchema,
  memberParams,
  memberSchema,
} from './members.schemas.ts';
import type { MemberService } from './members.service.ts';

const tags = ['members'];
const notFound = { description: 'No such org or member, or you are not a member' };

export function memberRoutes(members: MemberService): Route[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/orgs/{orgId}/members',
      policy: 'access',
      summary: 'Members of an org, filtered by role and by q (name or e-mail)',
      tags,
      params: orgIdParams,
      query: listMembersQuery,
      responses: { 200: { description: 'Page of members', schema: memberPageSchema }, 404: notFound },
      handle: async (req, res) => {
        const query = req.query;
        res.json(await members.list(currentUser(req).id, String(req.params.orgId), query));
      },
    }),
    route({
      method: 'patch',
      path: '/api/v1/orgs/{orgId}/members/{userId}',
      policy: { scope: 'org', action: 'member.updateRole' },
      summary: "Change a member's role (policy member.updateRole; outrank the target, stay below yourself)",
      tags,
      params: memberParams,
      body: changeRoleBody,
      responses: {
        200: { description: 'The member', schema: memberSchema },
        202: {
          description: 'requireApproval.roleChanges: waiting for approval',
          schema: pendingApprovalSchema,
        },
        403: { description: 'POLICY_DENIED or FORBIDDEN (membership rules)' },
        404: notFound,
        409: { description: 'OWNER_MUST_TRANSFER: the owner keeps the role until a transfer' },
        422: { description: 'OWNER is only given by an ownership transfer' },
      },
      handle: async (req, res) => {
        const { orgId, userId } = req.params;
        const result = await members.changeRole(currentUser(req).id, orgId, userId, req.body.role);
        res.status(isPending(result) ? 202 : 200).json(result);
      },
    }),
    route({
      method: 'delete',
      path: '/api/v1/orgs/{orgId}/members/{userId}',
      policy: { scope: 'org', action: 'member.remove' },
      summary: 'Remove a member, or leave (your own id); also removes them from every team of the org',
      tags,
      params: memberParams,
      responses: {
        204: { description: 'Removed' },
        202: { description: 'requireApproval.removals: waiting for approval', schema: pendingApprovalSchema },
        403: { description: 'POLICY_DENIED, or FORBIDDEN (outranked, self-removal off)' },
        404: notFound,
        409: { description: 'OWNER_MUST_TRANSFER: the org (or a team) owner must transfer first' },
      },
      handle: async (req, res) => {
        const { orgId, userId } = req.params;
        const pending = await members.remove(currentUser(req).id, orgId, userId);
        if (pending) res.status(202).json(pending);
        else res.status(204).end();
      },
    }),
  ];
}
