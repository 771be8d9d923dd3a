/**
 * Routes reachable without a token (api.md §1, §2). Everything else under /api/v1 requires a
 * valid, unrevoked access token. Listed explicitly: a new route is protected unless added here.
 */
const PUBLIC_API_ROUTES: ReadonlyArray<readonly [method: string, path: string]> = [
  ['POST', '/api/v1/auth/register'],
  ['POST', '/api/v1/auth/login'],
  ['POST', '/api/v1/auth/refresh'],
  ['POST', '/api/v1/auth/password/forgot'],
  ['POST', '/api/v1/auth/password/reset'],
  ['GET', '/api/v1/auth/jwks'],
];

export function isPublicApiRoute(method: string, path: string): boolean {
  const normalised = path.length > 1 ? path.replace(/\/+$/, '') : path;
  return PUBLIC_API_ROUTES.some(([m, p]) => m === method && p === normalised);
}

/**
 * Whether a public route's path is asked, whatever the method: another method goes on without a token
 * so that the service answers it 405 with `Allow`, not the gateway 401.
 */
export function isPublicApiPath(path: string): boolean {
  const normalised = path.length > 1 ? path.replace(/\/+$/, '') : path;
  return PUBLIC_API_ROUTES.some(([, p]) => p === normalised);
}
