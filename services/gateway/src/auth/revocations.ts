import { identityEvents, type EventEnvelope } from '@trellis/shared';

type SessionRevoked = EventEnvelope<{ jti: string | null; expiresAt: string | null }>;

/**
 * Access tokens revoked before their expiry (logout, refresh reuse, password reset), learned from
 * `identity.session`. Entries are forgotten once the token would have expired anyway, so the list
 * stays as small as the number of tokens revoked in the last 15 minutes.
 */
export class RevocationList {
  private readonly revoked = new Map<string, number>();
  private readonly listeners: Array<(jti: string) => void> = [];

  isRevoked = (jti: string): boolean => {
    const until = this.revoked.get(jti);
    return until !== undefined && until > Date.now();
  };

  apply(event: EventEnvelope): void {
    if (event.type !== identityEvents.sessionRevoked.type) return;
    const { jti, expiresAt } = (event as SessionRevoked).data;
    if (!jti) return;
    // Without an expiry, keep it for a full token lifetime.
    const until = expiresAt ? Date.parse(expiresAt) : Date.now() + 15 * 60_000;
    if (until <= Date.now() || this.revoked.has(jti)) return;
    this.revoked.set(jti, until);
    for (const listener of this.listeners) listener(jti);
  }

  /** Calls `listener` with each newly revoked jti (what was opened with it must end too). */
  onRevoked(listener: (jti: string) => void): void {
    this.listeners.push(listener);
  }

  prune(now = Date.now()): void {
    for (const [jti, until] of this.revoked) if (until <= now) this.revoked.delete(jti);
  }

  get size(): number {
    return this.revoked.size;
  }
}
