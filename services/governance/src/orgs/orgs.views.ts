import { defaultOrgSettings, type OrgRole, type OrgSettings } from '@trellis/shared';
import type { OrgInstance } from './orgs.model.ts';
import type { OrgView } from './orgs.schemas.ts';

/** Stored settings over today's defaults, so a setting added later has a value for older orgs. */
export function orgSettingsOf(org: OrgInstance): OrgSettings {
  const defaults = defaultOrgSettings();
  const stored = org.settings as Partial<OrgSettings>;
  return {
    ...defaults,
    ...stored,
    requireApproval: { ...defaults.requireApproval, ...stored.requireApproval },
  };
}

export function toOrgView(org: OrgInstance, myRole: OrgRole): OrgView {
  return {
    id: org.id,
    name: org.name,
    slug: org.slug,
    ownerId: org.ownerId,
    plan: orgSettingsOf(org).plan,
    createdAt: org.createdAt.toISOString(),
    myRole,
    version: org.version,
  };
}

export { etagOf, ifMatchPasses } from '@trellis/shared';

export function orgData(org: OrgInstance) {
  return { orgId: org.id, name: org.name, slug: org.slug, ownerId: org.ownerId };
}
