import type { Express } from 'express';
import { authenticate, postgresServiceApp, type KeyResolver, type PostgresAppDeps } from '@trellis/shared';
import { AccessService } from './access/access.service.ts';
import { ApprovalGate } from './approvals/approval-gate.ts';
import { approvalRoutes } from './approvals/approvals.routes.ts';
import { ApprovalService } from './approvals/approvals.service.ts';
import { auditRoutes } from './audit/audit.routes.ts';
import { AuditLog } from './audit/audit.service.ts';
import { DirectoryService } from './directory/directory.service.ts';
import { InvitationSweep } from './invitations/invitation-sweep.service.ts';
import { invitationRoutes } from './invitations/invitations.routes.ts';
import { InvitationService } from './invitations/invitations.service.ts';
import { MyInvitationService } from './invitations/my-invitations.service.ts';
import { internalRoutes } from './internal/internal.routes.ts';
import { InternalService } from './internal/internal.service.ts';
import { memberRoutes } from './members/members.routes.ts';
import { MemberService } from './members/members.service.ts';
import type { Models } from './models.ts';
import { PlanLimits } from './orgs/limits.service.ts';
import { orgRoutes } from './orgs/orgs.routes.ts';
import { OrgService } from './orgs/orgs.service.ts';
import { settingsRoutes } from './settings/settings.routes.ts';
import { SettingsService } from './settings/settings.service.ts';
import { TeamMemberService } from './teams/team-members.service.ts';
import { teamRoutes } from './teams/teams.routes.ts';
import { TeamService } from './teams/teams.service.ts';

export interface AppDeps extends PostgresAppDeps {
  models: Models;
  /** Public keys of identity's access tokens (the remote JWKS in production, a test signer in tests). */
  resolveKey: KeyResolver;
}

/**
 * The use cases, wired once; `main.ts` also needs `directory` and `approvals` for the event
 * consumer and `invitationSweep` for the expiry sweep.
 */
export function buildServices(deps: Pick<AppDeps, 'sequelize' | 'models' | 'outbox'>) {
  const { sequelize, models, outbox } = deps;
  const access = new AccessService({ models });
  const limits = new PlanLimits({ sequelize, models });
  const gate = new ApprovalGate({ models, outbox });
  const orgs = new OrgService({ sequelize, models, outbox, access });
  const members = new MemberService({ sequelize, models, outbox, access, limits, gate });
  const teams = new TeamService({ sequelize, models, outbox, access, limits, gate });
  const invitations = new InvitationService({ sequelize, models, outbox, access, gate });
  const myInvitations = new MyInvitationService({ sequelize, models, outbox, members });
  const invitationSweep = new InvitationSweep({ sequelize, outbox });
  // Approvals execute the other use cases (as the requester, gate skipped), so they come last.
  const approvals = new ApprovalService({
    sequelize,
    models,
    outbox,
    access,
    gate,
    members,
    teams,
    invitations,
  });
  const teamMembers = new TeamMemberService({ sequelize, models, outbox, access });
  const settings = new SettingsService({ sequelize, outbox, access });
  const directory = new DirectoryService({ sequelize, members });
  const internal = new InternalService({ models });
  const audit = new AuditLog({ sequelize });
  // Governance's own events enter the audit log in the same transaction as the change they
  // describe, so the chain follows commit order; other services' arrive through Kafka.
  outbox.onAdd((transaction, events) => audit.append(transaction, events));
  return {
    access,
    limits,
    orgs,
    members,
    teams,
    teamMembers,
    settings,
    invitations,
    myInvitations,
    invitationSweep,
    approvals,
    directory,
    internal,
    audit,
  };
}

export type Services = ReturnType<typeof buildServices>;

/** The governance HTTP app; no I/O happens here, so tests can build it around their own connections. */
export function buildApp(deps: AppDeps, services: Services = buildServices(deps)): Express {
  const routes = [
    ...orgRoutes(services.orgs),
    ...memberRoutes(services.members),
    ...settingsRoutes(services.settings),
    ...teamRoutes(services.teams, services.teamMembers),
    ...invitationRoutes(services.invitations, services.myInvitations),
    ...approvalRoutes(services.approvals),
    ...auditRoutes(services.audit, services.access),
  ];
  return postgresServiceApp({
    service: 'governance',
    deps,
    routes,
    guard: [authenticate(deps.resolveKey, { isRevoked: deps.isRevoked })],
    internal: internalRoutes(services.internal),
  });
}
