import { z } from 'zod';
import { errors } from '@trellis/shared';

/** If-Match names a version (`*` and no header accept any). */
const namesVersion = (ifMatch: string | undefined) => ifMatch !== undefined && ifMatch.trim() !== '*';

/**
 * The filter that makes an edit conditional on the version read, when If-Match names one
 * (api.md §1): a change between the read and the write then fails the write instead of being
 * overwritten. Otherwise the last edit wins, as the client asked for nothing else.
 */
export function versionGuard(ifMatch: string | undefined, read: { version: number }): { version?: number } {
  return namesVersion(ifMatch) ? { version: read.version } : {};
}

/** Why a guarded edit matched nothing: changed since read (412), or deleted meanwhile (404). */
export function editLost(ifMatch: string | undefined, what: string): Error {
  return namesVersion(ifMatch) ? errors.preconditionFailed() : errors.notFound(what);
}

/**
 * What a comment and a chat message answer alike: author, text, mentions and the edit state.
 * `mentions`: the mentioned users (`<@userId>`) who can read the thread, in order of appearance.
 */
export const editableTextFields = {
  authorId: z.uuid(),
  /** '' once deleted. */
  body: z.string(),
  mentions: z.array(z.uuid()),
  createdAt: z.iso.datetime(),
  editedAt: z.iso.datetime().nullable(),
  deleted: z.boolean(),
  version: z.number().int().min(1),
};
