import { DataTypes, type Model, type Optional, type Sequelize } from 'sequelize';
import type { OrgSettings } from '@trellis/shared';

export interface OrgAttributes {
  id: string;
  name: string;
  slug: string;
  ownerId: string;
  settings: OrgSettings;
  version: number;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
}

type OrgCreation = Optional<OrgAttributes, 'version' | 'createdAt' | 'updatedAt' | 'deletedAt'>;

export interface OrgInstance extends Model<OrgAttributes, OrgCreation>, OrgAttributes {}

/** Soft-deleted (paranoid): default queries never see a deleted org; restore reads with `paranoid: false`. */
export function defineOrgModel(sequelize: Sequelize) {
  return sequelize.define<OrgInstance>(
    'Org',
    {
      id: { type: DataTypes.UUID, primaryKey: true },
      name: { type: DataTypes.TEXT, allowNull: false },
      slug: { type: DataTypes.TEXT, allowNull: false },
      ownerId: { type: DataTypes.UUID, allowNull: false },
      settings: { type: DataTypes.JSONB, allowNull: false },
      version: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 1 },
      createdAt: DataTypes.DATE,
      updatedAt: DataTypes.DATE,
      deletedAt: DataTypes.DATE,
    },
    { tableName: 'orgs', paranoid: true },
  );
}
