import { createHash, randomBytes, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Sequelize, Transaction } from 'sequelize';
import {
  ACCESS_TOKEN,
  createEvent,
  errors,
  identityEvents,
  type AuthUser,
  type PgOutbox,
} from '@trellis/shared';
import type { KeyStore } from '../keys/keys.service.ts';
import type { Models } from '../models.ts';
import type { RefreshFamilyInstance } from './sessions.model.ts';

const REFRESH_TTL_MS = 30 * 24 * 3600_000;

export type RevocationReason =
  'logout' | 'refresh_reuse' | 'password_reset' | 'password_change' | 'account_deleted';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  /** Seconds the access token is valid for. */
  expiresIn: number;
}

interface SessionUser {
  id: string;
  email: string;
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/**
 * Access tokens (RS256 JWTs) and refresh-token families. A login starts a family; each refresh
 * marks the presented token used and issues the next one in the same family; presenting a used
 * token again means it leaked, so the whole family is revoked.
 */
export class SessionService {
  private readonly sequelize: Sequelize;
  private readonly models: Models;
  private readonly keys: KeyStore;
  private readonly outbox: PgOutbox;

  constructor(deps: { sequelize: Sequelize; models: Models; keys: KeyStore; outbox: PgOutbox }) {
    this.sequelize = deps.sequelize;
    this.models = deps.models;
    this.keys = deps.keys;
    this.outbox = deps.outbox;
  }

  /** Starts a new family (register, login) inside the caller's transaction. */
  async start(transaction: Transaction, user: SessionUser): Promise<TokenPair> {
    const access = await this.signAccessToken(user);
    const family = await this.models.RefreshFamily.create(
      { id: randomUUID(), userId: user.id, lastJti: access.jti, lastExpiresAt: access.expiresAt },
      { transaction },
    );
    const refreshToken = await this.addRefreshToken(transaction, family.id);
    return { accessToken: access.token, refreshToken, expiresIn: ACCESS_TOKEN.ttlSeconds };
  }

  /** Exchanges a refresh token for a new pair; 401 when it is unknown, expired, revoked or reused. */
  async rotate(refreshToken: string): Promise<TokenPair> {
    const { RefreshToken, RefreshFamily, User } = this.models;
    // A reuse must commit the family's revocation, so failures are returned and thrown afterwards.
    const pair = await this.sequelize.transaction(async (transaction) => {
      const token = await RefreshToken.findOne({
        where: { tokenHash: hashToken(refreshToken) },
        lock: transaction.LOCK.UPDATE,
        transaction,
      });
      if (!token) return undefined;
      const family = await RefreshFamily.findByPk(token.familyId, {
        lock: transaction.LOCK.UPDATE,
        transaction,
      });
      if (!family || family.revokedAt) return undefined;
      if (token.usedAt) {
        await this.revokeFamilies(transaction, [family], 'refresh_reuse', null);
        return undefined;
      }
      if (token.expiresAt.getTime() <= Date.now()) return undefined;
      const user = await User.findByPk(family.userId, { transaction });
      if (!user) return undefined;
      await token.update({ usedAt: new Date() }, { transaction });
      const access = await this.signAccessToken(user);
      await family.update({ lastJti: access.jti, lastExpiresAt: access.expiresAt }, { transaction });
      const next = await this.addRefreshToken(transaction, family.id);
      return { accessToken: access.token, refreshToken: next, expiresIn: ACCESS_TOKEN.ttlSeconds };
    });
    if (!pair) throw errors.unauthenticated('The refresh token is invalid, expired or already used.');
    return pair;
  }

  /**
   * Logout: revokes the family of `refreshToken` when it is the caller's, and always the caller's
   * own access token, so the gateway rejects it from now on.
   */
  async logout(transaction: Transaction, caller: AuthUser, refreshToken: string): Promise<void> {
    const token = await this.models.RefreshToken.findOne({
      where: { tokenHash: hashToken(refreshToken) },
      transaction,
    });
    const family = token
      ? await this.models.RefreshFamily.findByPk(token.familyId, {
          lock: transaction.LOCK.UPDATE,
          transaction,
        })
      : null;
    const own = family && family.userId === caller.id ? family : undefined;
    if (own && !own.revokedAt) {
      // The family's newest access token may be another one than the caller's (a refresh since).
      if (own.lastJti === caller.jti) {
        await own.update({ revokedAt: new Date(), revokedReason: 'logout' }, { transaction });
      } else {
        await this.revokeFamilies(transaction, [own], 'logout', caller.id);
      }
    }
    await this.outbox.add(
      transaction,
      this.revokedEvent(caller.id, caller.id, {
        familyId: own?.id ?? null,
        jti: caller.jti,
        expiresAt: new Date(caller.expiresAt * 1000),
        reason: 'logout',
      }),
    );
  }

  /**
   * Revokes every live family of a user (except the one whose newest access token is `keepJti`),
   * publishing `session.revoked` with each family's newest access token.
   */
  async revokeAll(
    transaction: Transaction,
    userId: string,
    reason: RevocationReason,
    options: { actorId: string | null; keepJti?: string },
  ): Promise<string[]> {
    const families = await this.models.RefreshFamily.findAll({
      where: { userId, revokedAt: null },
      lock: transaction.LOCK.UPDATE,
      transaction,
    });
    const doomed = families.filter((family) => family.lastJti !== options.keepJti);
    await this.revokeFamilies(transaction, doomed, reason, options.actorId);
    return doomed.map((family) => family.lastJti);
  }

  /** Publishes the revocation of one access token that belongs to no family being revoked. */
  async revokeAccessToken(
    transaction: Transaction,
    caller: AuthUser,
    reason: RevocationReason,
  ): Promise<void> {
    await this.outbox.add(
      transaction,
      this.revokedEvent(caller.id, caller.id, {
        familyId: null,
        jti: caller.jti,
        expiresAt: new Date(caller.expiresAt * 1000),
        reason,
      }),
    );
  }

  private async revokeFamilies(
    transaction: Transaction,
    families: RefreshFamilyInstance[],
    reason: RevocationReason,
    actorId: string | null,
  ): Promise<void> {
    const revokedAt = new Date();
    for (const family of families) {
      await family.update({ revokedAt, revokedReason: reason }, { transaction });
    }
    await this.outbox.add(
      transaction,
      families.map((family) =>
        this.revokedEvent(family.userId, actorId, {
          familyId: family.id,
          jti: family.lastJti,
          expiresAt: family.lastExpiresAt,
          reason,
        }),
      ),
    );
  }

  private revokedEvent(
    userId: string,
    actorId: string | null,
    revoked: { familyId: string | null; jti: string; expiresAt: Date; reason: RevocationReason },
  ) {
    return createEvent(identityEvents.sessionRevoked, 'identity', {
      subjectId: userId,
      actorId,
      data: {
        userId,
        familyId: revoked.familyId,
        jti: revoked.jti,
        expiresAt: revoked.expiresAt.toISOString(),
        reason: revoked.reason,
      },
    });
  }

  private async addRefreshToken(transaction: Transaction, familyId: string): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    await this.models.RefreshToken.create(
      {
        id: randomUUID(),
        familyId,
        tokenHash: hashToken(token),
        expiresAt: new Date(Date.now() + REFRESH_TTL_MS),
      },
      { transaction },
    );
    return token;
  }

  private async signAccessToken(user: SessionUser): Promise<{ token: string; jti: string; expiresAt: Date }> {
    const { kid, privateKey } = await this.keys.signingKey();
    const jti = randomUUID();
    const issuedAt = Math.floor(Date.now() / 1000);
    const token = jwt.sign({ email: user.email, iat: issuedAt }, privateKey, {
      algorithm: ACCESS_TOKEN.algorithm,
      keyid: kid,
      subject: user.id,
      jwtid: jti,
      issuer: ACCESS_TOKEN.issuer,
      audience: ACCESS_TOKEN.audience,
      expiresIn: ACCESS_TOKEN.ttlSeconds,
    });
    return { token, jti, expiresAt: new Date((issuedAt + ACCESS_TOKEN.ttlSeconds) * 1000) };
  }
}
