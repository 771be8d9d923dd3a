import type { Sequelize } from 'sequelize';
import { defineApprovalModel } from './approvals/approvals.model.ts';
import { defineDirectoryUserModel } from './directory/directory.model.ts';
import { defineInvitationModel } from './invitations/invitations.model.ts';
import { defineOrgMemberModel } from './members/members.model.ts';
import { defineOrgModel } from './orgs/orgs.model.ts';
import { defineTeamModels } from './teams/teams.model.ts';

/** Every governance model bound to one connection (no I/O: `define` only registers them). */
export function defineModels(sequelize: Sequelize) {
  return {
    Org: defineOrgModel(sequelize),
    OrgMember: defineOrgMemberModel(sequelize),
    ...defineTeamModels(sequelize),
    DirectoryUser: defineDirectoryUserModel(sequelize),
    Invitation: defineInvitationModel(sequelize),
    Approval: defineApprovalModel(sequelize),
  };
}

export type Models = ReturnType<typeof defineModels>;
