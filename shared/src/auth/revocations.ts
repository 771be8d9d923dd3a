import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { identityEvents } from '../events/catalogue/index.ts';
import type { EventEnvelope } from '../events/envelope.ts';
import type { EventBus } from '../events/kafka.ts';
import { ACCESS_TOKEN, type RevocationCheck } from './access-token.ts';

type SessionRevoked = EventEnvelope<{ jti: string | null; expiresAt: string | null }>;

/** Expired entries are dropped at most this often, when a revocation arrives (no timer to stop). */
const PRUNE_INTERVAL_MS = 60_000;

/**
 * Access tokens revoked before their expiry (logout, refresh reuse, password change or reset,
 * account deletion), learned from `identity.session`. Entries are forgotten once the token would
 * have expired anyway, so the list stays as small as the number of tokens revoked in the last
 * token lifetime.
 */
export class RevocationList {
  private readonly revoked = new Map<string, number>();
  private readonly listeners: Array<(jti: string) => void> = [];
  private prunedAt = Date.now();

  isRevoked: RevocationCheck = (jti) => {
    const until = this.revoked.get(jti);
    return until !== undefined && until > Date.now();
  };

  apply(event: EventEnvelope): void {
    if (event.type !== identityEvents.sessionRevoked.type) return;
    const { jti, expiresAt } = (event as SessionRevoked).data;
    if (!jti) return;
    const now = Date.now();
    if (now - this.prunedAt >= PRUNE_INTERVAL_MS) this.prune(now);
    // Without an expiry, keep it for a full token lifetime.
    const until = expiresAt ? Date.parse(expiresAt) : now + ACCESS_TOKEN.ttlSeconds * 1000;
    if (until <= now || this.revoked.has(jti)) return;
    this.revoked.set(jti, until);
    for (const listener of this.listeners) listener(jti);
  }

  /** Calls `listener` with each newly revoked jti (what was opened with it must end too). */
  onRevoked(listener: (jti: string) => void): void {
    this.listeners.push(listener);
  }

  prune(now = Date.now()): void {
    this.prunedAt = now;
    for (const [jti, until] of this.revoked) if (until <= now) this.revoked.delete(jti);
  }

  get size(): number {
    return this.revoked.size;
  }
}

/**
 * Keeps a new revocation list up to date from `identity.session`, for a service that verifies
 * access tokens (all of them: none trusts the network). Every replica must learn every revocation,
 * so each process reads the topic in a group of its own, from the beginning (a revocation matters
 * for one token lifetime at most; older ones are skipped), and never commits: nobody resumes from
 * its offsets. Resolves once the consumer has joined its group (kafkajs's `run` waits for that), so
 * a service awaits it before it listens; the consumer stops with the bus's other consumers.
 */
export async function followRevocations(bus: EventBus, service: string): Promise<RevocationList> {
  const revocations = new RevocationList();
  await bus.consume({
    groupId: `${service}-revocations-${hostname()}-${randomUUID().slice(0, 8)}`,
    label: `${service}-revocations`,
    topics: [identityEvents.sessionRevoked.topic],
    fromBeginning: true,
    commitOffsets: false,
    handle: async ({ event }) => revocations.apply(event),
  });
  return revocations;
}
