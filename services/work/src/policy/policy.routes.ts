import { route, type Route } from '@trellis/shared';
import { callerOf } from '../access/access.service.ts';
import {
  explainQuery,
  explanationSchema,
  policyParams,
  ruleBookQuery,
  ruleBookSchema,
} from './policy.schemas.ts';
import type { PolicyService } from './policy.service.ts';

const tags = ['policy'];
const notFound = { description: 'No such org (or team, or project) you can see' };

export function policyRoutes(policy: PolicyService): Route[] {
  const orgId = (req: { params: Record<string, unknown> }) => String(req.params.orgId);
  return [
    route({
      method: 'get',
      path: '/api/v1/orgs/{orgId}/policy',
      policy: 'access',
      summary:
        'The rule book: every action, configurable or fixed, with the role it needs here and where that comes from',
      tags,
      params: policyParams,
      query: ruleBookQuery,
      responses: {
        200: { description: 'Every catalogue action', schema: ruleBookSchema },
        404: notFound,
        422: { description: 'The project is not in the team given' },
      },
      handle: async (req, res) => {
        res.json(await policy.ruleBook(callerOf(req), orgId(req), req.query));
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/orgs/{orgId}/policy/explain',
      policy: { scope: 'org', action: 'policy.explain' },
      summary:
        "Why a user may or may not do an action: allowed, requiredRole, effectiveRole, source (someone else's: policy.explain)",
      tags,
      params: policyParams,
      query: explainQuery,
      responses: {
        200: { description: 'The decision and its reasons', schema: explanationSchema },
        403: { description: 'POLICY_DENIED: explaining another user needs policy.explain' },
        404: notFound,
        422: { description: 'Not an action of the rule book, or its scope has no team or project given' },
      },
      handle: async (req, res) => {
        res.json(await policy.explain(callerOf(req), orgId(req), req.query));
      },
    }),
  ];
}
