import { DataTypes, type Model, type Optional, type Sequelize } from 'sequelize';
import type { OrgRole } from '@trellis/shared';

export interface OrgMemberAttributes {
  orgId: string;
  userId: string;
  role: OrgRole;
  joinedAt: Date;
  updatedAt: Date;
}

export interface OrgMemberInstance
  extends
    Model<OrgMemberAttributes, Optional<OrgMemberAttributes, 'joinedAt' | 'updatedAt'>>,
    OrgMemberAttributes {}

export function defineOrgMemberModel(sequelize: Sequelize) {
  return sequelize.define<OrgMemberInstance>(
    'OrgMember',
    {
      orgId: { type: DataTypes.UUID, primaryKey: true },
      userId: { type: DataTypes.UUID, primaryKey: true },
      role: { type: DataTypes.TEXT, allowNull: false },
      joinedAt: { type: DataTypes.DATE, allowNull: false, defaultValue: DataTypes.NOW },
      updatedAt: DataTypes.DATE,
    },
    { tableName: 'org_members', createdAt: false },
  );
}
