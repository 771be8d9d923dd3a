import type { Express } from 'express';
import { postgresServiceApp, type PostgresAppDeps } from '@trellis/shared';
import { requireUser } from './auth/auth.guard.ts';
import { authRoutes } from './auth/auth.routes.ts';
import { AuthService } from './auth/auth.service.ts';
import { CodeService } from './codes/codes.service.ts';
import type { Config } from './config.ts';
import { keyRoutes } from './keys/keys.routes.ts';
import type { KeyStore } from './keys/keys.service.ts';
import type { Models } from './models.ts';
import { OrgDirectory } from './orgs/orgs.service.ts';
import { SessionService } from './sessions/sessions.service.ts';
import { LoginThrottle } from './throttle/login-throttle.service.ts';
import { userRoutes } from './users/users.routes.ts';
import { UserService } from './users/users.service.ts';

export interface AppDeps extends PostgresAppDeps {
  models: Models;
  keys: KeyStore;
  config: Pick<
    Config,
    | 'CODE_SECRET'
    | 'LOGIN_MAX_FAILURES'
    | 'LOGIN_MAX_FAILURES_PER_IP'
    | 'LOGIN_WINDOW_SECONDS'
    | 'LOGIN_ACCOUNT_BACKOFF_AFTER'
    | 'LOGIN_ACCOUNT_BACKOFF_MAX_SECONDS'
  >;
}

/** The use cases, wired once; `main.ts` also needs `orgs` for the event consumer. */
export function buildServices(deps: Omit<AppDeps, 'logger' | 'readiness' | 'isRevoked'>) {
  const { sequelize, models, outbox, keys, config } = deps;
  const orgs = new OrgDirectory({ sequelize, models });
  const sessions = new SessionService({ sequelize, models, keys, outbox });
  const codes = new CodeService({ models, secret: config.CODE_SECRET });
  const throttle = new LoginThrottle({
    sequelize,
    maxPerAddress: config.LOGIN_MAX_FAILURES,
    maxPerIp: config.LOGIN_MAX_FAILURES_PER_IP,
    windowSeconds: config.LOGIN_WINDOW_SECONDS,
    backoffAfter: config.LOGIN_ACCOUNT_BACKOFF_AFTER,
    backoffMaxSeconds: config.LOGIN_ACCOUNT_BACKOFF_MAX_SECONDS,
  });
  const users = new UserService({ sequelize, models, outbox, sessions, codes, orgs });
  const auth = new AuthService({ sequelize, models, outbox, sessions, codes, throttle });
  return { orgs, sessions, codes, throttle, users, auth };
}

/** The identity HTTP app; no I/O happens here, so tests can build it around their own connections. */
export function buildApp(deps: AppDeps, services = buildServices(deps)): Express {
  const { users, auth } = services;
  const routes = [...authRoutes(auth), ...keyRoutes(deps.keys), ...userRoutes(users)];
  return postgresServiceApp({
    service: 'identity',
    deps,
    routes,
    guard: requireUser(deps.keys.resolve, deps.isRevoked, users),
  });
}
