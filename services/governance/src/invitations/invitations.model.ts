import { DataTypes, type Model, type Optional, type Sequelize } from 'sequelize';
import type { OrgRole } from '@trellis/shared';

export const INVITATION_STATES = [
  'PENDING_APPROVAL',
  'PENDING',
  'ACCEPTED',
  'DECLINED',
  'REVOKED',
  'EXPIRED',
] as const;
export type InvitationState = (typeof INVITATION_STATES)[number];

export interface InvitationAttributes {
  id: string;
  orgId: string;
  email: string;
  role: OrgRole;
  /** As stored; a PENDING invitation past `expiresAt` reads as EXPIRED (see `effectiveState`). */
  state: InvitationState;
  /** SHA-256 (hex) of the token; null until issued. */
  tokenHash: string | null;
  expiresAt: Date | null;
  invitedBy: string;
  approvalId: string | null;
  acceptedBy: string | null;
  createdAt: Date;
  updatedAt: Date;
}

type InvitationCreation = Optional<
  InvitationAttributes,
  'tokenHash' | 'expiresAt' | 'approvalId' | 'acceptedBy' | 'createdAt' | 'updatedAt'
>;

export interface InvitationInstance
  extends Model<InvitationAttributes, InvitationCreation>, InvitationAttributes {}

export function defineInvitationModel(sequelize: Sequelize) {
  return sequelize.define<InvitationInstance>(
    'Invitation',
    {
      id: { type: DataTypes.UUID, primaryKey: true },
      orgId: { type: DataTypes.UUID, allowNull: false },
      email: { type: DataTypes.TEXT, allowNull: false },
      role: { type: DataTypes.TEXT, allowNull: false },
      state: { type: DataTypes.TEXT, allowNull: false },
      tokenHash: DataTypes.TEXT,
      expiresAt: DataTypes.DATE,
      invitedBy: { type: DataTypes.UUID, allowNull: false },
      approvalId: DataTypes.UUID,
      acceptedBy: DataTypes.UUID,
      createdAt: DataTypes.DATE,
      updatedAt: DataTypes.DATE,
    },
    { tableName: 'invitations' },
  );
}

/** EXPIRED is computed on read too: the hourly sweep only writes down what reads already say. */
export function effectiveState(
  invitation: Pick<InvitationAttributes, 'state' | 'expiresAt'>,
  now = new Date(),
): InvitationState {
  if (invitation.state === 'PENDING' && invitation.expiresAt && invitation.expiresAt <= now) return 'EXPIRED';
  return invitation.state;
}
