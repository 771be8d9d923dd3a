import type { IncomingHttpHeaders } from 'node:http';
import type { RequestHandler } from 'express';
import {
  AppError,
  bearerToken,
  cachedTokenVerifier,
  type AuthUser,
  type KeyResolver,
  type TokenVerifier,
} from '@trellis/shared';
import { isPublicApiPath } from './public-routes.ts';

export interface GatewayAuthOptions {
  resolveKey: KeyResolver;
  isRevoked: (jti: string) => boolean;
}

/** Client-sent identity headers are never trusted, whatever the route (HTTP or WebSocket). */
export function removeIdentityHeaders(headers: IncomingHttpHeaders): void {
  for (const name of Object.keys(headers)) if (name.startsWith('x-user-')) delete headers[name];
}

export function stripIdentityHeaders(): RequestHandler {
  return (req, _res, next) => {
    removeIdentityHeaders(req.headers);
    next();
  };
}

/**
 * Signature, claims, expiry — and not revoked since: what the gateway asks of every token. The
 * verification is remembered per token until it expires; revocation is checked every time.
 */
export async function verifyUnrevoked(
  token: string | undefined,
  options: { verify: TokenVerifier; isRevoked: (jti: string) => boolean },
): Promise<AuthUser> {
  if (!token) throw new AppError(401, 'UNAUTHENTICATED', { detail: 'A bearer access token is required.' });
  const user = await options.verify(token);
  if (options.isRevoked(user.jti)) {
    throw new AppError(401, 'UNAUTHENTICATED', { detail: 'The access token has been revoked.' });
  }
  return user;
}

/**
 * Verifies the bearer token of every non-public `/api/v1` request (signature against the identity
 * JWKS, algorithm, claims, expiry, revocation) and sets `req.user`. The token is forwarded as is:
 * services verify it again. On public routes a token is ignored.
 */
export function requireAccessToken(options: GatewayAuthOptions): RequestHandler {
  const check = { verify: cachedTokenVerifier(options.resolveKey), isRevoked: options.isRevoked };
  return async (req, _res, next) => {
    // A public route's path with another method goes on too: the service answers it 405.
    if (!req.path.startsWith('/api/v1/') || isPublicApiPath(req.path)) {
      next();
      return;
    }
    req.user = await verifyUnrevoked(bearerToken(req.headers.authorization), check);
    next();
  };
}
