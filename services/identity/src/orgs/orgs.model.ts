import { DataTypes, type Model, type Sequelize } from 'sequelize';

/** Local copy of governance's orgs: who owns each, and whether it is deleted. */
export interface OrgProjectionAttributes {
  orgId: string;
  ownerId: string;
  deleted: boolean;
}

export interface OrgProjectionInstance extends Model<OrgProjectionAttributes>, OrgProjectionAttributes {}

export interface OrgMemberAttributes {
  orgId: string;
  userId: string;
}

export interface OrgMemberInstance extends Model<OrgMemberAttributes>, OrgMemberAttributes {}

export function defineOrgModels(sequelize: Sequelize) {
  const OrgProjection = sequelize.define<OrgProjectionInstance>(
    'OrgProjection',
    {
      orgId: { type: DataTypes.UUID, primaryKey: true },
      ownerId: { type: DataTypes.UUID, allowNull: false },
      deleted: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    },
    { tableName: 'org_projection', createdAt: false },
  );
  const OrgMember = sequelize.define<OrgMemberInstance>(
    'OrgMember',
    {
      orgId: { type: DataTypes.UUID, primaryKey: true },
      userId: { type: DataTypes.UUID, primaryKey: true },
    },
    { tableName: 'org_members', timestamps: false },
  );
  return { OrgProjection, OrgMember };
}
