import type { Request } from 'express';
import {
  currentUser,
  errors,
  type AccessReader,
  type OrgAccess,
  type ProjectAccess,
  type TaskAccess,
  type TeamAccess,
} from '@trellis/shared';

/** Who is calling, with the bearer token the fallbacks forward. */
export interface Caller {
  id: string;
  authorization: string | undefined;
}

export function callerOf(req: Request): Caller {
  return { id: currentUser(req).id, authorization: req.get('authorization') };
}

/**
 * Tenancy (product.md §1) for the caller: anything they cannot see is a 404, never a 403. The
 * reader asks governance/work with the caller's token when the projection has not seen something
 * yet. Decisions for other users (mentions, read receipts) use the reader without a token.
 */
export class CollabAccess {
  readonly reader: AccessReader;

  constructor(reader: AccessReader) {
    this.reader = reader;
  }

  async org(orgId: string, caller: Caller, what = 'organization'): Promise<OrgAccess> {
    return found(await this.reader.org(orgId, caller.id, caller.authorization), what);
  }

  async team(teamId: string, caller: Caller, what = 'team'): Promise<TeamAccess> {
    return found(await this.reader.team(teamId, caller.id, caller.authorization), what);
  }

  async project(projectId: string, caller: Caller, what = 'project'): Promise<ProjectAccess> {
    return found(await this.reader.project(projectId, caller.id, caller.authorization), what);
  }

  async task(taskId: string, caller: Caller, what = 'task'): Promise<TaskAccess> {
    return found(await this.reader.task(taskId, caller.id, caller.authorization), what);
  }
}

function found<T>(access: T | null, what: string): T {
  if (access === null) throw errors.notFound(what);
  return access;
}
