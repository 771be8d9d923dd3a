import { createPublicKey, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { serviceFetch } from '../http/service-urls.ts';
import type { KeyResolver } from './access-token.ts';

const jwksSchema = z.object({
  keys: z.array(
    z
      .object({ kid: z.string().min(1), kty: z.literal('RSA'), n: z.string().min(1), e: z.string().min(1) })
      .loose(),
  ),
});

export interface RemoteJwksOptions {
  /** identity's base URL, or those of its replicas (tried in turn: see `serviceFetch`). */
  identityUrls: readonly string[];
  /** Known keys are refreshed at most this often in the background of a lookup. */
  cacheTtlMs?: number;
  /** An unknown `kid` triggers a refetch, but never more often than this (no refetch storms). */
  minRefetchIntervalMs?: number;
  timeoutMs?: number;
}

/**
 * A JWKS fetched from identity and cached. An unknown `kid` (a key just rotated in) refetches
 * once, rate-limited, so forged kids cannot make us hammer identity.
 */
export function remoteJwks(options: RemoteJwksOptions): KeyResolver {
  const { identityUrls, cacheTtlMs = 10 * 60_000, minRefetchIntervalMs = 5_000, timeoutMs = 2_000 } = options;
  let keys = new Map<string, KeyObject>();
  let fetchedAt = 0;
  let inFlight: Promise<void> | undefined;
  const get = serviceFetch(identityUrls);

  const refresh = () => {
    inFlight ??= (async () => {
      try {
        const response = await get('/api/v1/auth/jwks', { signal: AbortSignal.timeout(timeoutMs) });
        if (!response.ok) throw new Error(`JWKS answered ${response.status}`);
        const { keys: jwks } = jwksSchema.parse(await response.json());
        keys = new Map(jwks.map((jwk) => [jwk.kid, createPublicKey({ key: jwk, format: 'jwk' })]));
        fetchedAt = Date.now();
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  };

  return async (kid) => {
    const age = Date.now() - fetchedAt;
    if (!keys.has(kid) ? age >= minRefetchIntervalMs : age >= cacheTtlMs) {
      // A failed refetch keeps the keys we have: identity being down must not log everyone out.
      await refresh().catch(() => undefined);
    }
    return keys.get(kid);
  };
}
