import { authorize, currentUser, type Route, route } from '@trellis/shared';
import type {} from 'zod';
import type { AccessService } from '../access/access.service.ts';
import { orgIdParams } from '../orgs/orgs.schemas.ts';
import { orgSettingsOf } from '../orgs/orgs.views.ts';
import { auditPageSchema, auditQuery, verifySchema } from './audit.schemas.ts';
import type { AuditLog } from './audit.service.ts';

const tags = ['audit'];
const notFound = { description: 'No such org, or you are not a member' };
const denied = { description: 'POLICY_DENIED: below the audit.read threshold' };

export function auditRoutes(audit: AuditLog, access: AccessService): Route[] {
  /** 404 for outsiders, then the org's `audit.read` threshold. */
  const authorizedOrg = async (orgId: string, userId: string) => {
    const actor = await access.org(orgId, userId);
    authorize({
      scope: 'org',
      action: 'audit.read',
      memberships: { orgRole: actor.role },
      settings: { org: orgSettingsOf(actor.org) },
    });
    return orgId;
  };
  return [
    route({
      method: 'get',
      path: '/api/v1/orgs/{orgId}/audit',
      policy: { scope: 'org', action: 'audit.read' },
      summary: 'The org audit log in chain order, filtered by actor, type, subject and time',
      tags,
      params: orgIdParams,
      query: auditQuery,
      responses: {
        200: { description: 'Page of entries', schema: auditPageSchema },
        403: denied,
        404: notFound,
      },
      handle: async (req, res) => {
        const { limit, cursor, ...filters } = req.query;
        const orgId = await authorizedOrg(String(req.params.orgId), currentUser(req).id);
        res.json(await audit.list(orgId, filters, limit, cursor));
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/orgs/{orgId}/audit/verify',
      policy: { scope: 'org', action: 'audit.read' },
      summary: "Recompute the org's hash chain; reports the first entry that does not hold",
      tags,
      params: orgIdParams,
      responses: {
        200: { description: 'Verification result', schema: verifySchema },
        403: denied,
        404: notFound,
      },
      handle: async (req, res) => {
        const orgId = await authorizedOrg(String(req.params.orgId), currentUser(req).id);
        res.json(await audit.verify(orgId));
      },
    }),
  ];
}
