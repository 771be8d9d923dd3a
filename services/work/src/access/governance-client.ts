import { InternalClient, type Logger, type MembershipSnapshot } from '@trellis/shared';

export type { MembershipSnapshot } from '@trellis/shared';

/**
 * The membership fallback of architecture.md §2: when the projection lacks a membership (the event
 * still in flight), ask governance's internal endpoint with the caller's bearer token, through the
 * shared breaker-guarded `InternalClient`; any failure reads as "unknown", so the caller gets the
 * 404 the projection alone would give.
 */
export class GovernanceClient {
  private readonly client: InternalClient;

  constructor(options: { baseUrl: string | readonly string[]; timeoutMs?: number; logger: Logger }) {
    this.client = new InternalClient({ name: 'governance', ...options });
  }

  /** The membership, null when governance says there is none or cannot be asked right now. */
  membership(orgId: string, userId: string, authorization: string | undefined) {
    return this.client.get<MembershipSnapshot>(`/internal/orgs/${orgId}/members/${userId}`, authorization);
  }

  shutdown(): void {
    this.client.shutdown();
  }
}
