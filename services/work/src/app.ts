import type { Express } from 'express';
import { authenticate, postgresServiceApp, type KeyResolver, type PostgresAppDeps } from '@trellis/shared';
import { AccessMemo } from './access/access-memo.ts';
import { AccessService } from './access/access.service.ts';
import type { GovernanceClient } from './access/governance-client.ts';
import { ProjectionService } from './access/projection.service.ts';
import { PreparedStatements } from './prepared.ts';
import { internalRoutes } from './internal/internal.routes.ts';
import { InternalService } from './internal/internal.service.ts';
import { ProjectApprovalService } from './projects/project-approvals.service.ts';
import { ProjectMemberService } from './projects/project-members.service.ts';
import { ProjectSettingsService } from './projects/project-settings.service.ts';
import { policyRoutes } from './policy/policy.routes.ts';
import { PolicyService } from './policy/policy.service.ts';
import { projectRoutes } from './projects/projects.routes.ts';
import { ProjectService } from './projects/projects.service.ts';
import { SprintReportService } from './sprints/sprint-reports.service.ts';
import { sprintRoutes } from './sprints/sprints.routes.ts';
import { SprintService } from './sprints/sprints.service.ts';
import { TaskQueryService } from './tasks/task-queries.service.ts';
import { taskRoutes } from './tasks/tasks.routes.ts';
import { TaskService } from './tasks/tasks.service.ts';

export interface AppDeps extends PostgresAppDeps {
  /** Public keys of identity's access tokens (the remote JWKS in production, a test signer in tests). */
  resolveKey: KeyResolver;
  /** The membership fallback; without it a membership missing from the projection is a 404. */
  governance?: GovernanceClient;
  /** How long reads may reuse a project access decision (ACCESS_CACHE_TTL_MS); 250 ms if absent. */
  accessCacheTtlMs?: number;
}

/**
 * The use cases, wired once; `main.ts` also needs `projection`, `projectApprovals` and `memo` for
 * the consumer.
 */
export function buildServices(
  deps: Pick<AppDeps, 'sequelize' | 'outbox' | 'governance' | 'accessCacheTtlMs'>,
) {
  const { sequelize, outbox, governance } = deps;
  const memo = new AccessMemo({ ttlMs: deps.accessCacheTtlMs ?? 250 });
  memo.watch(outbox);
  const projection = new ProjectionService({ sequelize, memo });
  const statements = new PreparedStatements(sequelize);
  const access = new AccessService({
    sequelize,
    statements,
    projection,
    memo,
    ...(governance ? { governance } : {}),
  });
  const projects = new ProjectService({ sequelize, outbox, access });
  const projectMembers = new ProjectMemberService({ sequelize, outbox, access });
  const projectSettings = new ProjectSettingsService({ sequelize, outbox, access });
  const projectApprovals = new ProjectApprovalService({ sequelize, outbox });
  const tasks = new TaskService({ sequelize, statements, outbox, access });
  const taskQueries = new TaskQueryService({ statements, access });
  const sprints = new SprintService({ sequelize, outbox, access });
  const sprintReports = new SprintReportService({ sequelize, access });
  const internal = new InternalService({ sequelize });
  const policy = new PolicyService({ access });
  return {
    memo,
    projection,
    access,
    projects,
    projectMembers,
    projectSettings,
    projectApprovals,
    tasks,
    taskQueries,
    sprints,
    sprintReports,
    internal,
    policy,
  };
}

export type Services = ReturnType<typeof buildServices>;

/** The work HTTP app; no I/O happens here, so tests can build it around their own connections. */
export function buildApp(deps: AppDeps, services: Services = buildServices(deps)): Express {
  const routes = [
    ...projectRoutes(services.projects, services.projectMembers, services.projectSettings),
    ...taskRoutes(services.tasks, services.taskQueries),
    ...sprintRoutes(services.sprints, services.sprintReports),
    ...policyRoutes(services.policy),
  ];
  return postgresServiceApp({
    service: 'work',
    deps,
    routes,
    guard: [authenticate(deps.resolveKey, { isRevoked: deps.isRevoked })],
    internal: internalRoutes(services.internal),
  });
}
