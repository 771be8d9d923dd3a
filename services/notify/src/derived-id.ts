// Ids derived from what they stand for, so a redelivered event finds what it made the first time.
import { createHash } from 'node:crypto';

/** A UUID-shaped id (version 5 layout) from its parts: the same parts always give the same id. */
export function derivedId(...parts: string[]): string {
  const hex = createHash('sha256').update(parts.join(':')).digest('hex');
  const variant = ((parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
