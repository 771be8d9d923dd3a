import { currentUser, type Route, route } from '@trellis/shared';
import {
  createOrgBody,
  orgIdParams,
  orgPageSchema,
  orgSchema,
  orgSummarySchema,
  pageQuery,
  slugParams,
  transferOwnershipBody,
  updateOrgBody,
} from './orgs.schemas.ts';
import type { OrgService } from './orgs.service.ts';
import { etagOf } from './orgs.views.ts';

const tags = ['orgs'];
const notFound = { description: 'No such org, deleted, or you are not a member' };
const denied = { description: 'POLICY_DENIED: your role is too low' };

export function orgRoutes(orgs: OrgService): Route[] {
  return [
    route({
      method: 'post',
      path: '/api/v1/orgs',
      policy: 'self',
      summary: 'Create an organization; the creator becomes its OWNER',
      tags,
      body: createOrgBody,
      responses: {
        201: { description: 'Created org (Location, ETag)', schema: orgSchema },
        409: { description: 'The slug is taken' },
      },
      handle: async (req, res) => {
        const org = await orgs.create(currentUser(req).id, req.body);
        res.status(201).location(`/api/v1/orgs/${org.id}`).set('ETag', etagOf(org)).json(org);
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/orgs',
      policy: 'self',
      summary: 'The organizations I belong to, each with my role',
      tags,
      query: pageQuery,
      responses: { 200: { description: 'Page of orgs', schema: orgPageSchema } },
      handle: async (req, res) => {
        const query = req.query;
        res.json(await orgs.listMine(currentUser(req).id, query));
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/orgs/by-slug/{slug}',
      policy: 'self',
      summary: 'Find an org by slug (id, name and slug only), e.g. to ask to join it',
      tags,
      params: slugParams,
      responses: { 200: { description: 'Org summary', schema: orgSummarySchema }, 404: notFound },
      handle: async (req, res) => {
        res.json(await orgs.bySlug(String(req.params.slug)));
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/orgs/{orgId}',
      policy: 'access',
      summary: 'An organization I belong to',
      tags,
      params: orgIdParams,
      responses: { 200: { description: 'Org (ETag)', schema: orgSchema }, 404: notFound },
      handle: async (req, res) => {
        const org = await orgs.get(currentUser(req).id, String(req.params.orgId));
        res.set('ETag', etagOf(org)).json(org);
      },
    }),
    route({
      method: 'patch',
      path: '/api/v1/orgs/{orgId}',
      policy: { scope: 'org', action: 'org.update' },
      summary: 'Rename (ADMIN+; honours If-Match)',
      tags,
      params: orgIdParams,
      body: updateOrgBody,
      responses: {
        200: { description: 'Updated org (ETag)', schema: orgSchema },
        403: denied,
        404: notFound,
        412: { description: 'If-Match does not match' },
      },
      handle: async (req, res) => {
        const org = await orgs.rename(
          currentUser(req).id,
          String(req.params.orgId),
          req.body.name,
          req.get('if-match'),
        );
        res.set('ETag', etagOf(org)).json(org);
      },
    }),
    route({
      method: 'delete',
      path: '/api/v1/orgs/{orgId}',
      policy: { scope: 'org', action: 'org.delete' },
      summary: 'Delete (owner only; soft, restorable for 30 days)',
      tags,
      params: orgIdParams,
      responses: { 204: { description: 'Deleted' }, 403: denied, 404: notFound },
      handle: async (req, res) => {
        await orgs.remove(currentUser(req).id, String(req.params.orgId));
        res.status(204).end();
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/orgs/{orgId}/restore',
      policy: 'personal',
      summary: 'Restore a deleted org (owner, within 30 days)',
      tags,
      params: orgIdParams,
      responses: { 200: { description: 'Restored org', schema: orgSchema }, 404: notFound },
      handle: async (req, res) => {
        const org = await orgs.restore(currentUser(req).id, String(req.params.orgId));
        res.set('ETag', etagOf(org)).json(org);
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/orgs/{orgId}/transfer-ownership',
      policy: { scope: 'org', action: 'org.transferOwnership' },
      summary: 'Hand the org to another member (owner only); the old owner becomes ADMIN',
      tags,
      params: orgIdParams,
      body: transferOwnershipBody,
      responses: {
        200: { description: 'The org, with my new role', schema: orgSchema },
        403: denied,
        404: notFound,
        422: { description: 'The target is not a member' },
      },
      handle: async (req, res) => {
        const org = await orgs.transferOwnership(
          currentUser(req).id,
          String(req.params.orgId),
          req.body.userId,
        );
        res.set('ETag', etagOf(org)).json(org);
      },
    }),
  ];
}
