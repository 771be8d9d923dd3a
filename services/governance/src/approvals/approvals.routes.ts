import { currentUser, type Route, route } from '@trellis/shared';
import { orgIdParams } from '../orgs/orgs.schemas.ts';
import type {} from './approvals.model.ts';
import {
  approvalPageSchema,
  approvalParams,
  approvalSchema,
  approveBody,
  listApprovalsQuery,
  pendingApprovalSchema,
  rejectBody,
} from './approvals.schemas.ts';
import type { ApprovalService } from './approvals.service.ts';

const tags = ['approvals'];
const notFound = { description: 'No such org or approval, or you are not a member' };
const decideProblems = {
  403: { description: 'POLICY_DENIED (approval.decide), or FORBIDDEN: your own request (four eyes)' },
  404: notFound,
};

export function approvalRoutes(approvals: ApprovalService): Route[] {
  return [
    route({
      method: 'post',
      path: '/api/v1/orgs/{orgId}/join-requests',
      policy: 'personal',
      summary:
        'Ask to join an org (any signed-in user; find its id with GET /orgs/by-slug/{slug}); becomes a membership.join approval',
      tags,
      params: orgIdParams,
      responses: {
        202: { description: 'The request, waiting for approval', schema: pendingApprovalSchema },
        403: { description: 'FORBIDDEN: the org does not accept join requests (allowJoinRequests off)' },
        404: { description: 'No such org (or deleted)' },
        409: { description: 'CONFLICT: already a member, or a request is already pending' },
      },
      handle: async (req, res) => {
        res.status(202).json(await approvals.requestJoin(currentUser(req), String(req.params.orgId)));
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/orgs/{orgId}/approvals',
      policy: 'access',
      summary: 'Approvals: all of them for those who may decide (approval.decide), else my own requests',
      tags,
      params: orgIdParams,
      query: listApprovalsQuery,
      responses: { 200: { description: 'Page of approvals', schema: approvalPageSchema }, 404: notFound },
      handle: async (req, res) => {
        const query = req.query;
        res.json(await approvals.list(currentUser(req).id, String(req.params.orgId), query));
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/orgs/{orgId}/approvals/{approvalId}/approve',
      policy: { scope: 'org', action: 'approval.decide' },
      summary: 'Approve: the held action runs now, as the requester, with every check re-run',
      tags,
      params: approvalParams,
      body: approveBody,
      responses: {
        200: { description: 'The approval, APPROVED (the action is done)', schema: approvalSchema },
        ...decideProblems,
        409: {
          description:
            'Already decided; or the re-run checks refused the action: the approval is now FAILED (`approval`), the code is the refusal’s 409 code or CONFLICT',
        },
      },
      handle: async (req, res) => {
        const { orgId, approvalId } = req.params;
        res.json(await approvals.approve(currentUser(req).id, orgId, approvalId, req.body.comment));
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/orgs/{orgId}/approvals/{approvalId}/reject',
      policy: { scope: 'org', action: 'approval.decide' },
      summary: 'Reject: nothing happens',
      tags,
      params: approvalParams,
      body: rejectBody,
      responses: {
        200: { description: 'The approval, REJECTED', schema: approvalSchema },
        ...decideProblems,
        409: { description: 'Already decided or cancelled' },
      },
      handle: async (req, res) => {
        const { orgId, approvalId } = req.params;
        res.json(await approvals.reject(currentUser(req).id, orgId, approvalId, req.body.reason));
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/orgs/{orgId}/approvals/{approvalId}/cancel',
      policy: 'personal',
      summary: 'Cancel my own pending request (join requesters too, though not members)',
      tags,
      params: approvalParams,
      responses: {
        200: { description: 'The approval, CANCELLED', schema: approvalSchema },
        403: { description: 'FORBIDDEN: not your request' },
        404: notFound,
        409: { description: 'Already decided or cancelled' },
      },
      handle: async (req, res) => {
        const { orgId, approvalId } = req.params;
        res.json(await approvals.cancel(currentUser(req).id, orgId, approvalId));
      },
    }),
  ];
}
