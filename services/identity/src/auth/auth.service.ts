import { randomUUID } from 'node:crypto';
import { UniqueConstraintError, type Sequelize, type Transaction } from 'sequelize';
import { createEvent, errors, identityEvents, type AuthUser, type PgOutbox } from '@trellis/shared';
import type { CodePurpose } from '../codes/codes.model.ts';
import type { CodeService } from '../codes/codes.service.ts';
import type { Models } from '../models.ts';
import type { SessionService, TokenPair } from '../sessions/sessions.service.ts';
import { clientAddress } from '../throttle/client-address.ts';
import type { LoginThrottle } from '../throttle/login-throttle.service.ts';
import type { UserInstance } from '../users/users.model.ts';
import { hashPassword, verifyAgainstDummy, verifyPassword } from './passwords.ts';

export interface Session extends TokenPair {
  user: UserInstance;
}

const badCode = () =>
  errors.validation([{ path: 'body.code', message: 'The code is wrong, expired or used up.' }]);

/** Registration, login, refresh, logout, passwords and e-mail verification. */
export class AuthService {
  private readonly sequelize: Sequelize;
  private readonly models: Models;
  private readonly outbox: PgOutbox;
  private readonly sessions: SessionService;
  private readonly codes: CodeService;
  private readonly throttle: LoginThrottle;

  constructor(deps: {
    sequelize: Sequelize;
    models: Models;
    outbox: PgOutbox;
    sessions: SessionService;
    codes: CodeService;
    throttle: LoginThrottle;
  }) {
    this.sequelize = deps.sequelize;
    this.models = deps.models;
    this.outbox = deps.outbox;
    this.sessions = deps.sessions;
    this.codes = deps.codes;
    this.throttle = deps.throttle;
  }

  /** `email` arrives lower-cased (the schema does it), so uniqueness is case-insensitive. */
  async register(input: { email: string; password: string; name: string }): Promise<Session> {
    const passwordHash = await hashPassword(input.password);
    const taken = () => errors.conflict('An account with this e-mail already exists.');
    try {
      return await this.sequelize.transaction(async (transaction) => {
        if (await this.models.User.findOne({ where: { email: input.email }, transaction })) throw taken();
        const user = await this.models.User.create(
          { id: randomUUID(), email: input.email, name: input.name, passwordHash },
          { transaction },
        );
        await this.outbox.add(
          transaction,
          createEvent(identityEvents.userRegistered, 'identity', {
            subjectId: user.id,
            actorId: user.id,
            data: { userId: user.id, email: user.email, name: user.name },
          }),
        );
        return { user, ...(await this.sessions.start(transaction, user)) };
      });
    } catch (err) {
      // Two registrations racing for one e-mail: the partial unique index decides.
      if (err instanceof UniqueConstraintError) throw taken();
      throw err;
    }
  }

  /**
   * The same 401 for an unknown e-mail and a wrong password (a dummy hash is verified so the time
   * matches too). Each attempt is counted per (e-mail, client address), per address and per
   * e-mail before the password is checked (`LoginThrottle`): past a limit, 429 and no check.
   */
  async login(input: { email: string; password: string }, ip: string | undefined): Promise<Session> {
    const user = await this.models.User.findOne({ where: { email: input.email } });
    const attempt = { email: input.email, address: clientAddress(ip), userId: user?.id };
    await this.throttle.claimLogin(attempt);
    const valid = user
      ? await verifyPassword(user.passwordHash, input.password)
      : await verifyAgainstDummy(input.password);
    if (!user || !valid) throw errors.unauthenticated('The e-mail or password is wrong.');
    const tokens = await this.sequelize.transaction(async (tx) => {
      await this.throttle.loginSucceeded(tx, { ...attempt, userId: user.id });
      return this.sessions.start(tx, user);
    });
    return { user, ...tokens };
  }

  refresh(refreshToken: string): Promise<TokenPair> {
    return this.sessions.rotate(refreshToken);
  }

  async logout(caller: AuthUser, refreshToken: string): Promise<void> {
    await this.sequelize.transaction((tx) => this.sessions.logout(tx, caller, refreshToken));
  }

  /** Wrong current passwords are throttled per account, so a stolen access token cannot guess. */
  async changePassword(caller: AuthUser, currentPassword: string, newPassword: string): Promise<void> {
    await this.throttle.claimPasswordChange(caller.id);
    const user = await this.models.User.findByPk(caller.id);
    if (!user) throw errors.unauthenticated('The account no longer exists.');
    if (!(await verifyPassword(user.passwordHash, currentPassword)))
      throw errors.unauthenticated('The current password is wrong.');
    const passwordHash = await hashPassword(newPassword);
    await this.sequelize.transaction(async (transaction) => {
      await this.throttle.passwordChangeSucceeded(transaction, user.id);
      await user.update({ passwordHash }, { transaction });
      // Other devices are signed out; the session making the change stays.
      await this.sessions.revokeAll(transaction, user.id, 'password_change', {
        actorId: user.id,
        keepJti: caller.jti,
      });
    });
  }

  /** Always accepted (no enumeration); mails a reset code only when the account exists. */
  async forgotPassword(email: string): Promise<void> {
    const user = await this.models.User.findOne({ where: { email } });
    if (!user) return;
    await this.sequelize.transaction((tx) => this.mailCode(tx, user, 'password-reset'));
  }

  /** A good code sets the password and ends every session; a bad one counts an attempt (400). */
  async resetPassword(input: { email: string; code: string; newPassword: string }): Promise<void> {
    const reset = await this.sequelize.transaction(async (transaction) => {
      const user = await this.models.User.findOne({
        where: { email: input.email },
        lock: transaction.LOCK.UPDATE,
        transaction,
      });
      if (!user || !(await this.codes.redeem(transaction, user.id, 'password-reset', input.code)))
        return false;
      await user.update({ passwordHash: await hashPassword(input.newPassword) }, { transaction });
      await this.sessions.revokeAll(transaction, user.id, 'password_reset', { actorId: null });
      return true;
    });
    if (!reset) throw badCode();
  }

  /** Mails a verification code; nothing to do for an address already verified. */
  async requestEmailVerification(caller: AuthUser): Promise<void> {
    await this.sequelize.transaction(async (transaction) => {
      const user = await this.models.User.findByPk(caller.id, { transaction });
      if (!user) throw errors.unauthenticated('The account no longer exists.');
      if (!user.emailVerified) await this.mailCode(transaction, user, 'email-verification');
    });
  }

  async verifyEmail(caller: AuthUser, code: string): Promise<void> {
    const verified = await this.sequelize.transaction(async (transaction) => {
      const user = await this.models.User.findByPk(caller.id, { lock: transaction.LOCK.UPDATE, transaction });
      if (!user) throw errors.unauthenticated('The account no longer exists.');
      if (user.emailVerified) return true;
      if (!(await this.codes.redeem(transaction, user.id, 'email-verification', code))) return false;
      await user.update({ emailVerified: true }, { transaction });
      await this.outbox.add(
        transaction,
        createEvent(identityEvents.userEmailVerified, 'identity', {
          subjectId: user.id,
          actorId: user.id,
          data: { userId: user.id, email: user.email },
        }),
      );
      return true;
    });
    if (!verified) throw badCode();
  }

  private async mailCode(transaction: Transaction, user: UserInstance, purpose: CodePurpose): Promise<void> {
    const code = await this.codes.issue(transaction, user.id, purpose);
    if (!code) return;
    await this.outbox.add(
      transaction,
      createEvent(identityEvents.mailRequested, 'identity', {
        subjectId: user.id,
        actorId: user.id,
        data: { template: purpose, to: user.email, params: { code, name: user.name } },
      }),
    );
  }
}
