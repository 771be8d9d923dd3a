import type { AppDeps } from '../src/app.ts';

/** The gateway's settings in its in-process tests: short timeouts, limits nobody reaches, no checks. */
export const testSettings: AppDeps['config'] = {
  PROXY_TIMEOUT_MS: 300,
  HEALTH_TIMEOUT_MS: 500,
  BODY_LIMIT_BYTES: 1_000,
  RATE_LIMIT_PER_USER: 1_000,
  RATE_LIMIT_PER_IP: 1_000,
  CORS_ORIGINS: '*',
  BREAKER_ERROR_PERCENT: 50,
  BREAKER_VOLUME: 100,
  BREAKER_RESET_MS: 5_000,
  BREAKER_FAILURES_PER_CALLER: 5,
  TRUSTED_PROXIES: [],
  // The tests run the health checks themselves (pool.checkAll) when they need them.
  UPSTREAM_HEALTH_INTERVAL_MS: 60_000,
};
