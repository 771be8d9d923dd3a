// Invitation tokens: minted when an invitation is issued, hashed to find the invitation again.
import { createHash, randomBytes } from 'node:crypto';

/** 32 random bytes (256 bits), base64url; only its SHA-256 is stored. */
export function newToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashToken(token) };
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
