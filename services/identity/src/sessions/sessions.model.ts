import { DataTypes, type Model, type Optional, type Sequelize } from 'sequelize';

export interface RefreshFamilyAttributes {
  id: string;
  userId: string;
  lastJti: string;
  lastExpiresAt: Date;
  revokedAt: Date | null;
  revokedReason: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface RefreshFamilyInstance
  extends
    Model<
      RefreshFamilyAttributes,
      Optional<RefreshFamilyAttributes, 'revokedAt' | 'revokedReason' | 'createdAt' | 'updatedAt'>
    >,
    RefreshFamilyAttributes {}

export interface RefreshTokenAttributes {
  id: string;
  familyId: string;
  /** SHA-256 of the opaque token (base64url); the token itself is never stored. */
  tokenHash: string;
  expiresAt: Date;
  usedAt: Date | null;
  createdAt: Date;
}

export interface RefreshTokenInstance
  extends
    Model<RefreshTokenAttributes, Optional<RefreshTokenAttributes, 'usedAt' | 'createdAt'>>,
    RefreshTokenAttributes {}

export function defineSessionModels(sequelize: Sequelize) {
  const RefreshFamily = sequelize.define<RefreshFamilyInstance>(
    'RefreshFamily',
    {
      id: { type: DataTypes.UUID, primaryKey: true },
      userId: { type: DataTypes.UUID, allowNull: false },
      lastJti: { type: DataTypes.TEXT, allowNull: false },
      lastExpiresAt: { type: DataTypes.DATE, allowNull: false },
      revokedAt: DataTypes.DATE,
      revokedReason: DataTypes.TEXT,
      createdAt: DataTypes.DATE,
      updatedAt: DataTypes.DATE,
    },
    { tableName: 'refresh_families' },
  );
  const RefreshToken = sequelize.define<RefreshTokenInstance>(
    'RefreshToken',
    {
      id: { type: DataTypes.UUID, primaryKey: true },
      familyId: { type: DataTypes.UUID, allowNull: false },
      tokenHash: { type: DataTypes.TEXT, allowNull: false },
      expiresAt: { type: DataTypes.DATE, allowNull: false },
      usedAt: DataTypes.DATE,
      createdAt: DataTypes.DATE,
    },
    { tableName: 'refresh_tokens', updatedAt: false },
  );
  return { RefreshFamily, RefreshToken };
}
