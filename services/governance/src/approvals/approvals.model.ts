import { DataTypes, type Model, type Optional, type Sequelize } from 'sequelize';

export const APPROVAL_KINDS = [
  'invitation.send',
  'member.updateRole',
  'member.remove',
  'team.create',
  'project.create',
  'membership.join',
] as const;
export type ApprovalKind = (typeof APPROVAL_KINDS)[number];

export const APPROVAL_STATES = ['PENDING', 'APPROVED', 'REJECTED', 'CANCELLED', 'FAILED'] as const;
export type ApprovalState = (typeof APPROVAL_STATES)[number];

export interface ApprovalAttributes {
  id: string;
  orgId: string;
  kind: ApprovalKind;
  state: ApprovalState;
  requestedBy: string;
  /** The intended action (what the use case needs to run it again). */
  payload: Record<string, unknown>;
  decidedBy: string | null;
  decision: 'APPROVED' | 'REJECTED' | null;
  /** The approver's comment, the rejecter's reason, or why the approved action failed. */
  reason: string | null;
  decidedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

type ApprovalCreation = Optional<
  ApprovalAttributes,
  'decidedBy' | 'decision' | 'reason' | 'decidedAt' | 'createdAt' | 'updatedAt'
>;

export interface ApprovalInstance extends Model<ApprovalAttributes, ApprovalCreation>, ApprovalAttributes {}

export function defineApprovalModel(sequelize: Sequelize) {
  return sequelize.define<ApprovalInstance>(
    'Approval',
    {
      id: { type: DataTypes.UUID, primaryKey: true },
      orgId: { type: DataTypes.UUID, allowNull: false },
      kind: { type: DataTypes.TEXT, allowNull: false },
      state: { type: DataTypes.TEXT, allowNull: false },
      requestedBy: { type: DataTypes.UUID, allowNull: false },
      payload: { type: DataTypes.JSONB, allowNull: false },
      decidedBy: DataTypes.UUID,
      decision: DataTypes.TEXT,
      reason: DataTypes.TEXT,
      decidedAt: DataTypes.DATE,
      createdAt: DataTypes.DATE,
      updatedAt: DataTypes.DATE,
    },
    { tableName: 'approvals' },
  );
}
