import { DataTypes, type Model, type Optional, type Sequelize } from 'sequelize';

export type CodePurpose = 'password-reset' | 'email-verification';

export interface OneTimeCodeAttributes {
  userId: string;
  purpose: CodePurpose;
  /** HMAC-SHA256 of the code under CODE_SECRET; the code itself is never stored. */
  codeMac: string;
  expiresAt: Date;
  attempts: number;
  createdAt: Date;
}

export interface OneTimeCodeInstance
  extends
    Model<OneTimeCodeAttributes, Optional<OneTimeCodeAttributes, 'attempts' | 'createdAt'>>,
    OneTimeCodeAttributes {}

/** One live code per (user, purpose): issuing a new one replaces the old. */
export function defineCodeModel(sequelize: Sequelize) {
  return sequelize.define<OneTimeCodeInstance>(
    'OneTimeCode',
    {
      userId: { type: DataTypes.UUID, primaryKey: true },
      purpose: { type: DataTypes.TEXT, primaryKey: true },
      codeMac: { type: DataTypes.TEXT, allowNull: false },
      expiresAt: { type: DataTypes.DATE, allowNull: false },
      attempts: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
      createdAt: DataTypes.DATE,
    },
    { tableName: 'one_time_codes', updatedAt: false },
  );
}
