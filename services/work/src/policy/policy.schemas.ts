import { z } from 'zod';
import { SCOPES } from '@trellis/shared';

const scope = z.enum(SCOPES as ['org', 'team', 'project']);
const source = z.enum(['system', 'org', 'team', 'project']);

export const policyParams = z.object({ orgId: z.uuid() });

/** Where the rule book is read: the org, or inside one of its teams or projects. */
export const ruleBookQuery = z.object({
  teamId: z.uuid().optional(),
  projectId: z.uuid().optional(),
});
export type RuleBookQuery = z.infer<typeof ruleBookQuery>;

export const explainQuery = ruleBookQuery.extend({
  action: z.string().min(1).max(64),
  /** Needed only when the action's name exists in several scopes and no team or project says which. */
  scope: scope.optional(),
  /** Whose decision; the caller's own when left out. Someone else's needs `policy.explain`. */
  userId: z.uuid().optional(),
});
export type ExplainQuery = z.infer<typeof explainQuery>;

export const ruleBookEntrySchema = z
  .object({
    scope,
    action: z.string(),
    configurable: z.boolean(),
    min: z.string(),
    max: z.string(),
    default: z.string(),
    orOrg: z.boolean().optional(),
    threshold: z.string(),
    source,
  })
  .meta({ id: 'RuleBookEntry' });

export const ruleBookSchema = z
  .object({
    orgId: z.uuid(),
    teamId: z.uuid().nullable(),
    projectId: z.uuid().nullable(),
    items: z.array(ruleBookEntrySchema),
  })
  .meta({ id: 'RuleBook' });

export const explanationSchema = z
  .object({
    userId: z.uuid(),
    scope,
    action: z.string(),
    allowed: z.boolean(),
    requiredRole: z.string(),
    effectiveRole: z.string().nullable(),
    source,
    roleSource: z.enum(['explicit', 'team', 'org']).nullable(),
    bypass: z.boolean(),
  })
  .meta({ id: 'PolicyExplanation' });
export type ExplanationView = z.infer<typeof explanationSchema>;
export type RuleBookView = z.infer<typeof ruleBookSchema>;
