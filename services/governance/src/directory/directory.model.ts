import { DataTypes, type Model, type Optional, type Sequelize } from 'sequelize';

/** Local copy of identity's users (id, e-mail, name), fed by `identity.user` events only. */
export interface DirectoryUserAttributes {
  id: string;
  email: string;
  name: string;
  updatedAt: Date;
  deletedAt: Date | null;
}

export interface DirectoryUserInstance
  extends
    Model<DirectoryUserAttributes, Optional<DirectoryUserAttributes, 'updatedAt' | 'deletedAt'>>,
    DirectoryUserAttributes {}

export function defineDirectoryUserModel(sequelize: Sequelize) {
  return sequelize.define<DirectoryUserInstance>(
    'DirectoryUser',
    {
      id: { type: DataTypes.UUID, primaryKey: true },
      email: { type: DataTypes.TEXT, allowNull: false },
      name: { type: DataTypes.TEXT, allowNull: false },
      updatedAt: DataTypes.DATE,
      deletedAt: DataTypes.DATE,
    },
    { tableName: 'users', createdAt: false },
  );
}
