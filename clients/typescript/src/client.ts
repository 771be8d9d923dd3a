import createClient, { type Client } from 'openapi-fetch';
import { TrellisProblem } from './problem.ts';
import type { paths } from './schema.ts';

/** A signed-in session's tokens; the client rotates them (refresh tokens are single-use). */
export interface Tokens {
  accessToken: string;
  refreshToken: string;
}

export interface TrellisClientOptions {
  /** The gateway, e.g. `http://localhost:8080` (the client adds nothing: paths start with /api/v1). */
  baseUrl: string;
  /** Tokens of an existing session; `login`/`register` set them too. */
  tokens?: Tokens;
  /** Told every new pair (after sign-in or a refresh), to persist it. */
  onTokens?: (tokens: Tokens | undefined) => void;
  /** How many times a request is tried again after a 503 or 429, or a connection refused or reset. */
  retries?: number;
  /** The fetch to use (tests, proxies); the global one by default. */
  fetch?: typeof fetch;
}

export interface TrellisClient {
  /** Every operation of the document, typed: `api.GET('/api/v1/projects/{id}', …)`. */
  api: Client<paths>;
  tokens(): Tokens | undefined;
  setTokens(tokens: Tokens | undefined): void;
  /** A valid access token (refreshing first when none is known but a refresh token is). */
  accessToken(): Promise<string | undefined>;
  /** Rotates the refresh token for a new pair; concurrent callers share one rotation. */
  refresh(): Promise<Tokens>;
  register(body: { email: string; password: string; name: string }): Promise<SessionUser>;
  login(body: { email: string; password: string }): Promise<SessionUser>;
  /** Ends the session on the server (its refresh family and this access token) and forgets it. */
  logout(): Promise<void>;
}

export interface SessionUser {
  id: string;
  email: string;
  name: string;
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A transport failure before any answer: safe to try again only for requests that cannot apply twice. */
function isConnectionError(err: unknown): boolean {
  const code = (err as { cause?: { code?: string } })?.cause?.code;
  return code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'UND_ERR_SOCKET';
}

/**
 * The Trellis client: openapi-fetch over the generated `paths`, with what every caller needs —
 * the bearer token on every call and one refresh-and-retry on a 401; an `Idempotency-Key` on every
 * POST, kept across its retries, so a retried create never creates twice (api.md §1); retries with
 * `Retry-After` on 429 and 503 for reads and keyed writes.
 */
export function createTrellisClient(options: TrellisClientOptions): TrellisClient {
  const baseFetch = options.fetch ?? globalThis.fetch;
  const retries = options.retries ?? 2;
  let tokens = options.tokens;
  let refreshing: Promise<Tokens> | undefined;

  const setTokens = (next: Tokens | undefined) => {
    tokens = next;
    options.onTokens?.(next);
  };

  async function refresh(): Promise<Tokens> {
    refreshing ??= (async () => {
      try {
        if (!tokens?.refreshToken)
          throw new TrellisProblem(401, { code: 'UNAUTHENTICATED', title: 'Signed out' });
        const response = await baseFetch(`${options.baseUrl}/api/v1/auth/refresh`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ refreshToken: tokens.refreshToken }),
        });
        const body = (await response.json()) as Record<string, unknown>;
        if (!response.ok) {
          setTokens(undefined);
          throw new TrellisProblem(response.status, body, response.headers);
        }
        const next = { accessToken: String(body.accessToken), refreshToken: String(body.refreshToken) };
        setTokens(next);
        return next;
      } finally {
        refreshing = undefined;
      }
    })();
    return refreshing;
  }

  async function send(request: Request): Promise<Response> {
    const retryable =
      request.method === 'GET' || request.method === 'HEAD' || request.headers.has('idempotency-key');
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await baseFetch(request.clone());
      } catch (err) {
        if (!retryable || attempt >= retries || !isConnectionError(err)) throw err;
        await delay(200 * 2 ** attempt);
        continue;
      }
      if ((response.status !== 503 && response.status !== 429) || !retryable || attempt >= retries)
        return response;
      const after = Number(response.headers.get('retry-after'));
      await delay(Number.isFinite(after) && after > 0 ? Math.min(after, 10) * 1000 : 200 * 2 ** attempt);
    }
  }

  async function authorizedFetch(input: Request): Promise<Response> {
    const request = new Request(input);
    if (request.method === 'POST' && !request.headers.has('idempotency-key'))
      request.headers.set('idempotency-key', crypto.randomUUID());
    if (tokens?.accessToken && !request.headers.has('authorization'))
      request.headers.set('authorization', `Bearer ${tokens.accessToken}`);
    const first = await send(request);
    if (first.status !== 401 || !tokens?.refreshToken || request.url.includes('/api/v1/auth/')) return first;
    const renewed = await refresh();
    const again = new Request(request);
    again.headers.set('authorization', `Bearer ${renewed.accessToken}`);
    return send(again);
  }

  const api = createClient<paths>({ baseUrl: options.baseUrl, fetch: authorizedFetch });

  async function signIn(
    path: '/api/v1/auth/register' | '/api/v1/auth/login',
    body: object,
  ): Promise<SessionUser> {
    const response = await baseFetch(`${options.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const answer = (await response.json()) as Record<string, unknown>;
    if (!response.ok) throw new TrellisProblem(response.status, answer, response.headers);
    setTokens({ accessToken: String(answer.accessToken), refreshToken: String(answer.refreshToken) });
    return answer.user as SessionUser;
  }

  return {
    api,
    tokens: () => tokens,
    setTokens,
    accessToken: async () =>
      tokens?.accessToken ?? (tokens?.refreshToken ? (await refresh()).accessToken : undefined),
    refresh,
    register: (body) => signIn('/api/v1/auth/register', body),
    login: (body) => signIn('/api/v1/auth/login', body),
    async logout() {
      if (tokens) {
        const response = await authorizedFetch(
          new Request(`${options.baseUrl}/api/v1/auth/logout`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ refreshToken: tokens.refreshToken }),
          }),
        );
        if (!response.ok && response.status !== 401) {
          const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
          throw new TrellisProblem(response.status, body, response.headers);
        }
      }
      setTokens(undefined);
    },
  };
}
