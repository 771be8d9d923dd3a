import type { Sequelize } from 'sequelize';
import { createEvent, errors, identityEvents, type AuthUser, type PgOutbox } from '@trellis/shared';
import type { CodeService } from '../codes/codes.service.ts';
import type { Models } from '../models.ts';
import type { OrgDirectory } from '../orgs/orgs.service.ts';
import type { SessionService } from '../sessions/sessions.service.ts';
import type { UserInstance } from './users.model.ts';
import type { UserView } from './users.schemas.ts';

export function toUserView(user: UserInstance): UserView {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    emailVerified: user.emailVerified,
    createdAt: user.createdAt.toISOString(),
  };
}

export function etagOf(user: UserInstance): string {
  return `"${user.version}"`;
}

/** If-Match semantics of api.md §1: absent or `*` passes; otherwise it must name the current version. */
function matches(ifMatch: string | undefined, user: UserInstance): boolean {
  if (ifMatch === undefined || ifMatch.trim() === '*') return true;
  return ifMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etagOf(user));
}

export class UserService {
  private readonly sequelize: Sequelize;
  private readonly models: Models;
  private readonly outbox: PgOutbox;
  private readonly sessions: SessionService;
  private readonly codes: CodeService;
  private readonly orgs: OrgDirectory;

  constructor(deps: {
    sequelize: Sequelize;
    models: Models;
    outbox: PgOutbox;
    sessions: SessionService;
    codes: CodeService;
    orgs: OrgDirectory;
  }) {
    this.sequelize = deps.sequelize;
    this.models = deps.models;
    this.outbox = deps.outbox;
    this.sessions = deps.sessions;
    this.codes = deps.codes;
    this.orgs = deps.orgs;
  }

  /** The caller's account; a token outliving its (deleted) account is no longer accepted. */
  async requireActive(userId: string): Promise<UserInstance> {
    const user = await this.models.User.findByPk(userId);
    if (!user) throw errors.unauthenticated('The account no longer exists.');
    return user;
  }

  async rename(caller: AuthUser, name: string, ifMatch: string | undefined): Promise<UserInstance> {
    return this.sequelize.transaction(async (transaction) => {
      const user = await this.models.User.findByPk(caller.id, { lock: transaction.LOCK.UPDATE, transaction });
      if (!user) throw errors.unauthenticated('The account no longer exists.');
      if (!matches(ifMatch, user)) throw errors.preconditionFailed();
      await user.update({ name, version: user.version + 1 }, { transaction });
      await this.outbox.add(
        transaction,
        createEvent(identityEvents.userUpdated, 'identity', {
          subjectId: user.id,
          actorId: caller.id,
          data: { userId: user.id, email: user.email, name: user.name },
        }),
      );
      return user;
    });
  }

  /**
   * Soft-deletes the account (the row stays for history, its e-mail is free again), ends every
   * session and drops pending codes. Refused while the projection says the user owns an org.
   */
  async remove(caller: AuthUser): Promise<void> {
    await this.sequelize.transaction(async (transaction) => {
      const user = await this.models.User.findByPk(caller.id, { lock: transaction.LOCK.UPDATE, transaction });
      if (!user) throw errors.unauthenticated('The account no longer exists.');
      if (await this.orgs.ownsLiveOrg(user.id, transaction)) {
        throw errors.conflict('You own an organization: transfer or delete it before deleting your account.');
      }
      const revokedJtis = await this.sessions.revokeAll(transaction, user.id, 'account_deleted', {
        actorId: caller.id,
      });
      if (!revokedJtis.includes(caller.jti)) {
        await this.sessions.revokeAccessToken(transaction, caller, 'account_deleted');
      }
      await this.codes.discardAll(transaction, user.id);
      await user.destroy({ transaction });
      await this.outbox.add(
        transaction,
        createEvent(identityEvents.userDeleted, 'identity', {
          subjectId: user.id,
          actorId: caller.id,
          data: { userId: user.id },
        }),
      );
    });
  }

  /** Another user's profile, visible only to someone sharing an org with them (or to themselves). */
  async profile(callerId: string, userId: string): Promise<{ id: string; name: string; email: string }> {
    const visible = userId === callerId || (await this.orgs.shareAnOrg(callerId, userId));
    const user = visible ? await this.models.User.findByPk(userId) : null;
    if (!user) throw errors.notFound('user');
    return { id: user.id, name: user.name, email: user.email };
  }
}
