import { createHash, createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { KeyResolver, Logger } from '@trellis/shared';
import { Op, type Sequelize } from 'sequelize';
import type { SigningKeyInstance } from './keys.model.ts';
import type { Models } from '../models.ts';

const generateRsaKeyPair = promisify(generateKeyPair);

/** Names the advisory lock under which one replica at a time creates or rotates keys. */
const KEY_LOCK = 7_243_101;
const DAY_MS = 24 * 3600_000;
/** The JWKS holds the current key and the one before it (tokens signed with it live 15 min more). */
const PUBLISHED_KEYS = 2;

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
}

export interface Jwk {
  kid: string;
  kty: string;
  n: string;
  e: string;
  alg: 'RS256';
  use: 'sig';
}

/** RFC 7638 thumbprint: a kid derived from the key itself. */
function thumbprint(jwk: { e: string; kty: string; n: string }): string {
  return createHash('sha256')
    .update(JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n }))
    .digest('base64url');
}

/**
 * Identity's RSA signing keys, kept in PostgreSQL so every replica signs and verifies with the
 * same set. The newest key signs; the JWKS publishes it and its predecessor; older ones are
 * deleted at rotation.
 */
export class KeyStore {
  private readonly sequelize: Sequelize;
  private readonly SigningKey: Models['SigningKey'];
  private readonly rotationMs: number;
  private readonly logger: Logger;
  private readonly passphrase: string;
  private current: SigningKey | undefined;
  private readonly publicKeys = new Map<string, KeyObject>();

  constructor(options: {
    sequelize: Sequelize;
    models: Models;
    rotationDays: number;
    logger: Logger;
    /** Encrypts private keys at rest: a database dump alone cannot sign tokens. */
    passphrase: string;
  }) {
    this.sequelize = options.sequelize;
    this.passphrase = options.passphrase;
    this.SigningKey = options.models.SigningKey;
    this.rotationMs = options.rotationDays * DAY_MS;
    this.logger = options.logger.child({ component: 'keys' });
  }

  /**
   * Creates the first key, or a new one when the newest is older than the rotation period, then
   * reloads. Runs at start and hourly; the advisory lock makes replicas starting together agree.
   */
  async rotateIfDue(now = new Date()): Promise<void> {
    await this.sequelize.transaction(async (transaction) => {
      await this.sequelize.query('SELECT pg_advisory_xact_lock(:key)', {
        replacements: { key: KEY_LOCK },
        transaction,
      });
      const newest = await this.SigningKey.findOne({ order: [['createdAt', 'DESC']], transaction });
      if (newest && now.getTime() - newest.createdAt.getTime() < this.rotationMs) return;
      const { privateKey, publicKey } = await generateRsaKeyPair('rsa', { modulusLength: 2048 });
      const jwk = publicKey.export({ format: 'jwk' }) as { kty: string; n: string; e: string };
      const kid = thumbprint(jwk);
      await this.SigningKey.create(
        {
          kid,
          privatePem: privateKey
            .export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: this.passphrase })
            .toString(),
          publicJwk: { kty: jwk.kty, n: jwk.n, e: jwk.e },
          createdAt: now,
        },
        { transaction },
      );
      const keep = await this.SigningKey.findAll({
        attributes: ['kid'],
        order: [['createdAt', 'DESC']],
        limit: PUBLISHED_KEYS,
        transaction,
      });
      const dropped = await this.SigningKey.destroy({
        where: { kid: { [Op.notIn]: keep.map((k) => k.kid) } },
        transaction,
      });
      this.logger.info({ kid, dropped }, newest ? 'signing key rotated' : 'first signing key created');
    });
    await this.reload();
  }

  /** Re-reads the keys (another replica may have rotated). */
  async reload(): Promise<void> {
    const rows = await this.published();
    const [newest] = rows;
    if (!newest) throw new Error('No signing key: call rotateIfDue() first');
    this.current = {
      kid: newest.kid,
      privateKey: createPrivateKey({ key: newest.privatePem, passphrase: this.passphrase }),
    };
    this.publicKeys.clear();
    for (const row of rows) this.publicKeys.set(row.kid, this.publicKeyOf(row));
  }

  /** The key new access tokens are signed with. */
  async signingKey(): Promise<SigningKey> {
    if (!this.current) await this.reload();
    return this.current!;
  }

  /** The JWKS, read from the database so every replica answers the same right after a rotation. */
  async jwks(): Promise<{ keys: Jwk[] }> {
    const rows = await this.published();
    return {
      keys: rows.map((row) => ({
        kid: row.kid,
        kty: row.publicJwk.kty ?? 'RSA',
        n: row.publicJwk.n ?? '',
        e: row.publicJwk.e ?? '',
        alg: 'RS256',
        use: 'sig',
      })),
    };
  }

  /** Verifies identity's own tokens without HTTP; an unknown kid is looked up once in the database. */
  readonly resolve: KeyResolver = async (kid) => {
    const known = this.publicKeys.get(kid);
    if (known) return known;
    const row = (await this.published()).find((r) => r.kid === kid);
    if (!row) return undefined;
    const key = this.publicKeyOf(row);
    this.publicKeys.set(kid, key);
    return key;
  };

  private published(): Promise<SigningKeyInstance[]> {
    return this.SigningKey.findAll({ order: [['createdAt', 'DESC']], limit: PUBLISHED_KEYS });
  }

  private publicKeyOf(row: SigningKeyInstance): KeyObject {
    return createPublicKey({ key: { ...row.publicJwk, kty: 'RSA' }, format: 'jwk' });
  }
}
