import { authorize, errors, type AccessReader } from '@trellis/shared';
import type { Webhook, WebhookModels } from './webhook.model.ts';

/** Who is calling, with the bearer token the projection's fallbacks forward. */
export interface Caller {
  id: string;
  authorization: string | undefined;
}

/**
 * Who may touch an org's webhooks (api.md §10): the org policy `webhook.manage`. An org the caller is
 * not in, and another org's or a deleted webhook, are 404; a role below the threshold is 403
 * POLICY_DENIED.
 */
export class WebhookAccess {
  private readonly m: WebhookModels;
  private readonly reader: AccessReader;

  constructor(deps: { models: WebhookModels; reader: AccessReader }) {
    this.m = deps.models;
    this.reader = deps.reader;
  }

  async manage(orgId: string, caller: Caller): Promise<void> {
    const org = await this.reader.org(orgId, caller.id, caller.authorization);
    if (!org) throw errors.notFound('organization');
    authorize({
      scope: 'org',
      action: 'webhook.manage',
      memberships: { orgRole: org.role },
      settings: { org: org.settings },
    });
  }

  /** A live webhook of an org where the caller may manage webhooks. */
  async owned(id: string, caller: Caller): Promise<Webhook> {
    const webhook = await this.m.Webhook.findById(id).lean<Webhook>();
    if (
      !webhook ||
      webhook.deleted ||
      !(await this.reader.org(webhook.orgId, caller.id, caller.authorization))
    )
      throw errors.notFound('webhook');
    await this.manage(webhook.orgId, caller);
    return webhook;
  }
}
