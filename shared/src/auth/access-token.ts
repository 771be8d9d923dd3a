import type { KeyObject } from 'node:crypto';
import type { RequestHandler } from 'express';
import jwt from 'jsonwebtoken';
import { AppError } from '../http/errors.ts';

/** The one definition of an access token, shared by the issuer (identity) and every verifier. */
export const ACCESS_TOKEN = {
  algorithm: 'RS256',
  issuer: 'trellis-identity',
  audience: 'trellis-api',
  ttlSeconds: 15 * 60,
} as const;

export interface AuthUser {
  id: string;
  email: string;
  jti: string;
  /** Unix seconds. */
  expiresAt: number;
}

/** Returns the public key for a `kid`, or undefined when the key set has no such key. */
export type KeyResolver = (kid: string) => Promise<KeyObject | undefined>;

/** True for a `jti` revoked before its expiry (`RevocationList.isRevoked`). */
export type RevocationCheck = (jti: string) => boolean;

declare module 'express-serve-static-core' {
  interface Request {
    /** Set by `authenticate` once the bearer token has been verified. */
    user?: AuthUser;
  }
}

const unauthenticated = (detail: string) => new AppError(401, 'UNAUTHENTICATED', { detail });

/**
 * Verifies a bearer token: RS256 only (a token saying `none` or HS256 is refused before any key
 * is touched), known `kid`, signature, issuer, audience, expiry and the claims we rely on.
 */
export async function verifyAccessToken(token: string, resolveKey: KeyResolver): Promise<AuthUser> {
  return (await verifyWithKey(token, resolveKey)).user;
}

/** `verifyAccessToken`, also saying which key verified the token. */
async function verifyWithKey(
  token: string,
  resolveKey: KeyResolver,
): Promise<{ user: AuthUser; kid: string; key: KeyObject }> {
  const decoded = jwt.decode(token, { complete: true });
  if (!decoded || typeof decoded.payload === 'string')
    throw unauthenticated('The access token is malformed.');
  const { alg, kid } = decoded.header;
  if (alg !== ACCESS_TOKEN.algorithm || !kid)
    throw unauthenticated('The access token is not signed as expected.');
  const key = await resolveKey(kid);
  if (!key) throw unauthenticated('The access token was signed by an unknown key.');
  let claims: jwt.JwtPayload;
  try {
    claims = jwt.verify(token, key, {
      algorithms: [ACCESS_TOKEN.algorithm],
      issuer: ACCESS_TOKEN.issuer,
      audience: ACCESS_TOKEN.audience,
    }) as jwt.JwtPayload;
  } catch (err) {
    const expired = err instanceof jwt.TokenExpiredError;
    throw unauthenticated(expired ? 'The access token has expired.' : 'The access token is not valid.');
  }
  const { sub, email, jti, exp } = claims;
  if (
    typeof sub !== 'string' ||
    typeof email !== 'string' ||
    typeof jti !== 'string' ||
    typeof exp !== 'number'
  ) {
    throw unauthenticated('The access token lacks required claims.');
  }
  return { user: { id: sub, email, jti, expiresAt: exp }, kid, key };
}

/**
 * The token of an `Authorization: Bearer …` header, if any. The scheme name is case-insensitive
 * (RFC 7235 §2.1: `bearer` and `BEARER` are `Bearer` too); the token is a JWT's base64url parts.
 */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer +([A-Za-z0-9_.-]+)$/i.exec(header ?? '');
  return match?.[1];
}

export type TokenVerifier = (token: string) => Promise<AuthUser>;

export interface VerifiedTokenCacheOptions {
  /** Most tokens remembered; the least recently used is forgotten first. */
  maxEntries?: number;
  now?: () => number;
}

/**
 * `verifyAccessToken` with a memory: a token verified once is not verified again (an RSA check
 * and a JSON parse per request) until it expires. Keyed by the whole token string, signature
 * included, so only the exact bytes that passed can hit; failures are never remembered. A hit
 * still resolves the token's `kid` (a map lookup in `remoteJwks`) and must find the key that
 * verified it: a key retired from the JWKS takes its tokens with it at once. Revocation is not
 * cached: the caller checks it on every request.
 */
export function cachedTokenVerifier(
  resolveKey: KeyResolver,
  options: VerifiedTokenCacheOptions = {},
): TokenVerifier {
  const { maxEntries = 10_000, now = Date.now } = options;
  const verified = new Map<string, { user: AuthUser; kid: string; key: KeyObject }>();
  return async (token) => {
    const hit = verified.get(token);
    if (hit) {
      verified.delete(token);
      if (hit.user.expiresAt * 1000 > now()) {
        const key = await resolveKey(hit.kid);
        if (key && (key === hit.key || key.equals(hit.key))) {
          verified.set(token, { ...hit, key }); // most recently used last
          return hit.user;
        }
      }
    }
    const fresh = await verifyWithKey(token, resolveKey);
    // Frozen: the same object is handed to every request presenting this token.
    const user = Object.freeze(fresh.user);
    if (user.expiresAt * 1000 > now()) {
      verified.set(token, { ...fresh, user });
      if (verified.size > maxEntries) verified.delete(verified.keys().next().value as string);
    }
    return user;
  };
}

export interface AuthenticateOptions {
  /**
   * Tokens revoked before they expire (logout, password reset…): the service's own list, fed from
   * `identity.session` (`followRevocations`). Required: a service must not rely on the gateway.
   */
  isRevoked: RevocationCheck;
  /** Verified tokens remembered until they expire (see `cachedTokenVerifier`). */
  cacheEntries?: number;
}

/**
 * Requires a valid, unrevoked access token and sets `req.user`; every failure is a 401 problem.
 * Revocation is checked on every request (the verification cache never answers for it).
 */
export function authenticate(resolveKey: KeyResolver, options: AuthenticateOptions): RequestHandler {
  const verify = cachedTokenVerifier(resolveKey, { maxEntries: options.cacheEntries });
  return async (req, _res, next) => {
    const token = bearerToken(req.headers.authorization);
    if (!token) throw unauthenticated('A bearer access token is required.');
    const user = await verify(token);
    if (options.isRevoked(user.jti)) throw unauthenticated('The access token has been revoked.');
    req.user = user;
    next();
  };
}

/** The authenticated user of a route behind `authenticate`. */
export function currentUser(req: { user?: AuthUser }): AuthUser {
  if (!req.user) throw unauthenticated('A bearer access token is required.');
  return req.user;
}
