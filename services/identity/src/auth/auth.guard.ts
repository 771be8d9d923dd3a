import { authenticate, currentUser, type KeyResolver } from '@trellis/shared';
import type { RequestHandler } from 'express';
import type { UserService } from '../users/users.service.ts';

/**
 * A valid access token (verified against identity's own keys, no HTTP) whose account still
 * exists: a deleted user's tokens stop working at once, not when they expire.
 */
export function requireUser(resolveKey: KeyResolver, users: UserService): RequestHandler[] {
  return [
    authenticate(resolveKey),
    async (req, _res, next) => {
      await users.requireActive(currentUser(req).id);
      next();
    },
  ];
}
