import type { RequestHandler } from 'express';
import { AppError, bearerToken, verifyAccessToken, type KeyResolver } from '@trellis/shared';
import { isPublicApiRoute } from './public-routes.ts';

export interface GatewayAuthOptions {
  resolveKey: KeyResolver;
  isRevoked: (jti: string) => boolean;
}

/** Client-sent identity headers are never trusted, whatever the route. */
export function stripIdentityHeaders(): RequestHandler {
  return (req, _res, next) => {
    for (const name of Object.keys(req.headers)) if (name.startsWith('x-user-')) delete req.headers[name];
    next();
  };
}

/**
 * Verifies the bearer token of every non-public `/api/v1` request (signature against the identity
 * JWKS, algorithm, claims, expiry, revocation) and sets `req.user`. The token is forwarded as is:
 * services verify it again. On public routes a token is ignored.
 */
export function requireAccessToken(options: GatewayAuthOptions): RequestHandler {
  return async (req, _res, next) => {
    if (!req.path.startsWith('/api/v1/') || isPublicApiRoute(req.method, req.path)) {
      next();
      return;
    }
    const token = bearerToken(req.headers.authorization);
    if (!token) throw new AppError(401, 'UNAUTHENTICATED', { detail: 'A bearer access token is required.' });
    const user = await verifyAccessToken(token, options.resolveKey);
    if (options.isRevoked(user.jti)) {
      throw new AppError(401, 'UNAUTHENTICATED', { detail: 'The access token has been revoked.' });
    }
    req.user = user;
    next();
  };
}
