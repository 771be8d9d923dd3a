import { authenticate, currentUser, type KeyResolver, type RevocationCheck } from '@trellis/shared';
import type { RequestHandler } from 'express';
import type { UserService } from '../users/users.service.ts';

/**
 * A valid, unrevoked access token (verified against identity's own keys, no HTTP; revocations
 * learned from `identity.session` like every service) whose account still exists: a deleted
 * user's tokens stop working at once, not when they expire.
 */
export function requireUser(
  resolveKey: KeyResolver,
  isRevoked: RevocationCheck,
  users: UserService,
): RequestHandler[] {
  return [
    authenticate(resolveKey, { isRevoked }),
    async (req, _res, next) => {
      await users.requireActive(currentUser(req).id);
      next();
    },
  ];
}
