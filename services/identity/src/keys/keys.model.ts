import { DataTypes, type Model, type Optional, type Sequelize } from 'sequelize';

export interface SigningKeyAttributes {
  kid: string;
  /** PKCS#8 PEM. Only identity's own database role can read this table. */
  privatePem: string;
  publicJwk: Record<string, string>;
  createdAt: Date;
}

export interface SigningKeyInstance
  extends Model<SigningKeyAttributes, Optional<SigningKeyAttributes, 'createdAt'>>, SigningKeyAttributes {}

export function defineSigningKeyModel(sequelize: Sequelize) {
  return sequelize.define<SigningKeyInstance>(
    'SigningKey',
    {
      kid: { type: DataTypes.TEXT, primaryKey: true },
      privatePem: { type: DataTypes.TEXT, allowNull: false },
      publicJwk: { type: DataTypes.JSONB, allowNull: false },
      createdAt: DataTypes.DATE,
    },
    { tableName: 'signing_keys', updatedAt: false },
  );
}
