import { z } from 'zod';

// Mentions are written `<@userId>` in markdown bodies (product.md §9).
const MENTION = /<@([0-9a-fA-F-]{36})>/g;
const userId = z.uuid();

/** The distinct user ids a body mentions, in order of first appearance (lower-cased; invalid ids ignored). */
export function mentionedIds(body: string): string[] {
  const ids: string[] = [];
  for (const match of body.matchAll(MENTION)) {
    const id = match[1]!.toLowerCase();
    if (!ids.includes(id) && userId.safeParse(id).success) ids.push(id);
  }
  return ids;
}

/**
 * The mentions of a body that count: the mentioned users `hasAccess` admits (access to the task or
 * channel scope), in order of appearance. Strangers are dropped, so a mention can neither notify
 * nor reveal anything to someone who cannot see the thread.
 */
export async function mentionsIn(
  body: string,
  hasAccess: (userId: string) => Promise<boolean>,
): Promise<string[]> {
  const ids = mentionedIds(body);
  const admitted = await Promise.all(ids.map(hasAccess));
  return ids.filter((_, i) => admitted[i]);
}

/** The users an edit mentions that the previous version did not (only they are notified again). */
export function addedMentions(before: readonly string[], after: readonly string[]): string[] {
  return after.filter((id) => !before.includes(id));
}
