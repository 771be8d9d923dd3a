import { errors } from '@trellis/shared';

/**
 * The filter that makes an edit conditional on the version read, when the client sent If-Match
 * (api.md §1): a change between the read and the write then fails the write instead of being
 * overwritten. Without If-Match the last edit wins, as the client asked for nothing else.
 */
export function versionGuard(ifMatch: string | undefined, read: { version: number }): { version?: number } {
  return ifMatch === undefined ? {} : { version: read.version };
}

/** Why a guarded edit matched nothing: changed since read (412), or deleted meanwhile (404). */
export function editLost(ifMatch: string | undefined, what: string): Error {
  return ifMatch === undefined ? errors.notFound(what) : errors.preconditionFailed();
}
