import { DataTypes, type Model, type Optional, type Sequelize } from 'sequelize';
import type { TeamRole, TeamSettings } from '@trellis/shared';

export interface TeamAttributes {
  id: string;
  orgId: string;
  name: string;
  description: string | null;
  ownerId: string;
  settings: TeamSettings;
  version: number;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
}

type TeamCreation = Optional<TeamAttributes, 'version' | 'createdAt' | 'updatedAt' | 'deletedAt'>;

export interface TeamInstance extends Model<TeamAttributes, TeamCreation>, TeamAttributes {}

export interface TeamMemberAttributes {
  teamId: string;
  orgId: string;
  userId: string;
  role: TeamRole;
  joinedAt: Date;
  updatedAt: Date;
}

export interface TeamMemberInstance
  extends
    Model<TeamMemberAttributes, Optional<TeamMemberAttributes, 'joinedAt' | 'updatedAt'>>,
    TeamMemberAttributes {}

/** Teams are soft-deleted (paranoid); their member rows stay, unreachable behind the deleted team. */
export function defineTeamModels(sequelize: Sequelize) {
  const Team = sequelize.define<TeamInstance>(
    'Team',
    {
      id: { type: DataTypes.UUID, primaryKey: true },
      orgId: { type: DataTypes.UUID, allowNull: false },
      name: { type: DataTypes.TEXT, allowNull: false },
      description: DataTypes.TEXT,
      ownerId: { type: DataTypes.UUID, allowNull: false },
      settings: { type: DataTypes.JSONB, allowNull: false },
      version: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 1 },
      createdAt: DataTypes.DATE,
      updatedAt: DataTypes.DATE,
      deletedAt: DataTypes.DATE,
    },
    { tableName: 'teams', paranoid: true },
  );
  const TeamMember = sequelize.define<TeamMemberInstance>(
    'TeamMember',
    {
      teamId: { type: DataTypes.UUID, primaryKey: true },
      orgId: { type: DataTypes.UUID, allowNull: false },
      userId: { type: DataTypes.UUID, primaryKey: true },
      role: { type: DataTypes.TEXT, allowNull: false },
      joinedAt: { type: DataTypes.DATE, allowNull: false, defaultValue: DataTypes.NOW },
      updatedAt: DataTypes.DATE,
    },
    { tableName: 'team_members', createdAt: false },
  );
  return { Team, TeamMember };
}
