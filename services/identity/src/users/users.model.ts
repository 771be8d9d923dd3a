import { DataTypes, type Model, type Optional, type Sequelize } from 'sequelize';

export interface UserAttributes {
  id: string;
  /** Always lower-case: uniqueness is case-insensitive. */
  email: string;
  name: string;
  passwordHash: string;
  emailVerified: boolean;
  version: number;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
}

type UserCreation = Optional<
  UserAttributes,
  'emailVerified' | 'version' | 'createdAt' | 'updatedAt' | 'deletedAt'
>;

export interface UserInstance extends Model<UserAttributes, UserCreation>, UserAttributes {}

/** Soft-deleted (paranoid): default queries never see a deleted account. */
export function defineUserModel(sequelize: Sequelize) {
  return sequelize.define<UserInstance>(
    'User',
    {
      id: { type: DataTypes.UUID, primaryKey: true },
      email: { type: DataTypes.TEXT, allowNull: false },
      name: { type: DataTypes.TEXT, allowNull: false },
      passwordHash: { type: DataTypes.TEXT, allowNull: false },
      emailVerified: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
      version: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 1 },
      createdAt: DataTypes.DATE,
      updatedAt: DataTypes.DATE,
      deletedAt: DataTypes.DATE,
    },
    { tableName: 'users', paranoid: true },
  );
}
