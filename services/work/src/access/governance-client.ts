import CircuitBreaker from 'opossum';
import type { Logger, OrgRole, OrgSettings, TeamRole, TeamSettings } from '@trellis/shared';

/** Governance's answer (services/governance/src/internal/internal.service.ts). */
export interface MembershipSnapshot {
  orgId: string;
  userId: string;
  role: OrgRole;
  teams: { teamId: string; role: TeamRole }[];
  orgSettings: OrgSettings;
  teamSettings: Record<string, TeamSettings>;
}

type Lookup = (orgId: string, userId: string, authorization: string) => Promise<MembershipSnapshot | null>;

/**
 * The membership fallback of architecture.md §2: when the projection lacks a membership (the event
 * still in flight), ask governance's internal endpoint, forwarding the caller's bearer token. An
 * opossum breaker bounds each call (timeout) and stops calling a sick governance for a while; any
 * failure reads as "unknown", so the caller gets the 404 the projection alone would give.
 */
export class GovernanceClient {
  private readonly breaker: CircuitBreaker<Parameters<Lookup>, MembershipSnapshot | null>;
  private readonly logger: Logger;

  constructor(options: { baseUrl: string; timeoutMs?: number; logger: Logger }) {
    const base = options.baseUrl.replace(/\/$/, '');
    const timeoutMs = options.timeoutMs ?? 1000;
    this.logger = options.logger.child({ component: 'governance-client' });
    const lookup: Lookup = async (orgId, userId, authorization) => {
      const res = await fetch(`${base}/internal/orgs/${orgId}/members/${userId}`, {
        headers: { authorization, accept: 'application/json' },
        signal: AbortSignal.timeout(timeoutMs),
      });
      // A definite "not a member" is an answer, not a failure of governance.
      if (res.status === 404) return null;
      if (!res.ok) throw new Error(`governance answered ${res.status}`);
      return (await res.json()) as MembershipSnapshot;
    };
    this.breaker = new CircuitBreaker(lookup, {
      name: 'governance',
      timeout: timeoutMs,
      errorThresholdPercentage: 50,
      volumeThreshold: 5,
      resetTimeout: 10_000,
    });
    this.breaker.on('open', () => this.logger.warn('governance breaker opened'));
    this.breaker.on('close', () => this.logger.info('governance breaker closed'));
  }

  /** The membership, null when governance says there is none or cannot be asked right now. */
  async membership(
    orgId: string,
    userId: string,
    authorization: string | undefined,
  ): Promise<MembershipSnapshot | null> {
    if (!authorization) return null;
    try {
      return await this.breaker.fire(orgId, userId, authorization);
    } catch (err) {
      this.logger.warn({ err, orgId, userId }, 'membership fallback failed');
      return null;
    }
  }

  shutdown(): void {
    this.breaker.shutdown();
  }
}
