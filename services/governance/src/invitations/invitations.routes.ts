import { currentUser, type Route, route } from '@trellis/shared';
import { isPending } from '../approvals/approval-gate.ts';
import { pendingApprovalSchema } from '../approvals/approvals.schemas.ts';
import { orgIdParams } from '../orgs/orgs.schemas.ts';
import type {} from './invitations.model.ts';
import {
  acceptedSchema,
  createInvitationBody,
  invitationPageSchema,
  invitationParams,
  invitationSchema,
  listInvitationsQuery,
  myInvitationPageSchema,
  myInvitationsQuery,
  tokenBody,
} from './invitations.schemas.ts';
import type { InvitationService } from './invitations.service.ts';
import type { MyInvitationService } from './my-invitations.service.ts';

const tags = ['invitations'];
const notFound = { description: 'No such org or invitation, or you are not a member' };
const denied = { description: 'POLICY_DENIED (member.invite), or FORBIDDEN: the role is not below yours' };
const tokenProblems = {
  403: { description: 'FORBIDDEN: the invitation is addressed to another e-mail address' },
  404: { description: 'Unknown token (or one replaced by a resend)' },
  409: { description: 'CONFLICT: expired, revoked, declined or already accepted (`state` says which)' },
};

export function invitationRoutes(
  invitations: InvitationService,
  myInvitations: MyInvitationService,
): Route[] {
  return [
    route({
      method: 'post',
      path: '/api/v1/orgs/{orgId}/invitations',
      policy: { scope: 'org', action: 'member.invite' },
      summary: 'Invite an e-mail address with a role below yours (policy member.invite); never OWNER',
      tags,
      params: orgIdParams,
      body: createInvitationBody,
      responses: {
        201: { description: 'The invitation (Location; never the token)', schema: invitationSchema },
        202: { description: 'requireApproval.invites: waiting for approval', schema: pendingApprovalSchema },
        403: denied,
        404: notFound,
        409: { description: 'CONFLICT: already a member, or a live invitation exists' },
      },
      handle: async (req, res) => {
        const orgId = String(req.params.orgId);
        const result = await invitations.create(currentUser(req).id, orgId, req.body);
        if (isPending(result)) {
          res.status(202).json(result);
          return;
        }
        res.status(201).location(`/api/v1/orgs/${orgId}/invitations/${result.id}`).json(result);
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/orgs/{orgId}/invitations',
      policy: { scope: 'org', action: 'member.invite' },
      summary: "The org's invitations, filtered by state (policy member.invite)",
      tags,
      params: orgIdParams,
      query: listInvitationsQuery,
      responses: {
        200: { description: 'Page of invitations', schema: invitationPageSchema },
        403: denied,
        404: notFound,
      },
      handle: async (req, res) => {
        const query = req.query;
        res.json(await invitations.list(currentUser(req).id, String(req.params.orgId), query));
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/orgs/{orgId}/invitations/{invitationId}',
      policy: { scope: 'org', action: 'member.invite' },
      summary: 'One invitation (policy member.invite)',
      tags,
      params: invitationParams,
      responses: {
        200: { description: 'The invitation', schema: invitationSchema },
        403: denied,
        404: notFound,
      },
      handle: async (req, res) => {
        const { orgId, invitationId } = req.params;
        res.json(await invitations.get(currentUser(req).id, orgId, invitationId));
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/orgs/{orgId}/invitations/{invitationId}/revoke',
      policy: { scope: 'org', action: 'member.invite' },
      summary: 'Revoke a live invitation; its token is dead',
      tags,
      params: invitationParams,
      responses: {
        200: { description: 'The invitation, REVOKED', schema: invitationSchema },
        403: denied,
        404: notFound,
        409: { description: 'CONFLICT: not live (or waiting for approval)' },
      },
      handle: async (req, res) => {
        const { orgId, invitationId } = req.params;
        res.json(await invitations.revoke(currentUser(req).id, orgId, invitationId));
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/orgs/{orgId}/invitations/{invitationId}/resend',
      policy: { scope: 'org', action: 'member.invite' },
      summary:
        'A new token, 7 more days and a new e-mail for a PENDING or EXPIRED invitation; the old token dies',
      tags,
      params: invitationParams,
      responses: {
        200: { description: 'The invitation, PENDING', schema: invitationSchema },
        403: denied,
        404: notFound,
        409: { description: 'CONFLICT: accepted, declined, revoked, waiting for approval, or now a member' },
      },
      handle: async (req, res) => {
        const { orgId, invitationId } = req.params;
        res.json(await invitations.resend(currentUser(req).id, orgId, invitationId));
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/invitations/mine',
      policy: 'self',
      summary: "Live invitations addressed to my e-mail (the access token's, case-insensitive)",
      tags,
      query: myInvitationsQuery,
      responses: { 200: { description: 'Page of invitations', schema: myInvitationPageSchema } },
      handle: async (req, res) => {
        res.json(await myInvitations.mine(currentUser(req), req.query));
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/invitations/accept',
      policy: 'personal',
      summary: 'Accept with the token from the e-mail, signed in with the invited address',
      tags,
      body: tokenBody,
      responses: {
        200: { description: 'Now a member', schema: acceptedSchema },
        ...tokenProblems,
        409: { description: `${tokenProblems[409].description}; LIMIT_REACHED (members); already a member` },
      },
      handle: async (req, res) => {
        res.json(await myInvitations.accept(currentUser(req), req.body.token));
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/invitations/decline',
      policy: 'personal',
      summary: 'Decline with the token from the e-mail, signed in with the invited address',
      tags,
      body: tokenBody,
      responses: { 204: { description: 'Declined' }, ...tokenProblems },
      handle: async (req, res) => {
        await myInvitations.decline(currentUser(req), req.body.token);
        res.status(204).end();
      },
    }),
  ];
}
