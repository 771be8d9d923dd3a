import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { ContractChecker } from './contract.ts';
import { noteReceived, noteSent } from './secret-watch.ts';

/** A tiny JSON client for the gateway URL, so tests read like the API they exercise. */
export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

/**
 * Every answer is checked against the gateway's OpenAPI document (support/contract.ts): a
 * violation fails the call's test. `E2E_CONTRACT=report:<file>` appends them to a file instead,
 * `off` skips the check.
 */
const CONTRACT = process.env.E2E_CONTRACT ?? 'assert';
const checkers = new Map<string, Promise<ContractChecker>>();

function conform(baseUrl: string, method: string, url: string, response: Response, body: unknown) {
  if (CONTRACT === 'off') return Promise.resolve();
  let checker = checkers.get(baseUrl);
  if (!checker) checkers.set(baseUrl, (checker = ContractChecker.load(baseUrl)));
  return checker.then((c) => {
    const violations = c.check(method, url, response.status, response.headers, body);
    if (violations.length === 0) return;
    if (CONTRACT.startsWith('report:'))
      appendFileSync(CONTRACT.slice('report:'.length), violations.join('\n') + '\n');
    else assert.fail(`the answer breaks the API document:\n${violations.join('\n')}`);
  });
}

/** An answer's body as the contract check takes it: JSON parsed, other text as is, none undefined. */
function bodyOf(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export function apiClient(baseUrl: string) {
  async function call<T = Record<string, unknown>>(
    method: string,
    path: string,
    options: { body?: unknown; token?: string; raw?: string; headers?: Record<string, string> } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let payload: string | undefined;
    if (options.raw !== undefined) payload = options.raw;
    else if (options.body !== undefined) payload = JSON.stringify(options.body);
    if (payload !== undefined) headers['content-type'] ??= 'application/json';
    noteSent(options.raw ?? options.body);
    const response = await fetch(`${baseUrl}/api/v1${path}`, { method, headers, body: payload });
    const text = await response.text();
    const received = bodyOf(text);
    noteReceived(received);
    await conform(baseUrl, method, response.url, response, received);
    const body = received === undefined ? {} : typeof received === 'string' ? { text } : received;
    return { status: response.status, headers: response.headers, body: body as T };
  }
  return {
    baseUrl,
    call,
    get: <T = Record<string, unknown>>(path: string, token?: string) => call<T>('GET', path, { token }),
    post: <T = Record<string, unknown>>(path: string, body?: unknown, token?: string) =>
      call<T>('POST', path, { body, token }),
    patch: <T = Record<string, unknown>>(path: string, body?: unknown, token?: string) =>
      call<T>('PATCH', path, { body, token }),
    delete: <T = Record<string, unknown>>(path: string, token?: string) => call<T>('DELETE', path, { token }),
  };
}

export type ApiClient = ReturnType<typeof apiClient>;

/**
 * The fetch the journeys' @trellis/client sessions go through: every answer is checked against
 * the document like the plain client's.
 */
export function conformingFetch(baseUrl: string): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    noteSent(await request.clone().text());
    const response = await fetch(request);
    const received = bodyOf(await response.clone().text());
    noteReceived(received);
    await conform(baseUrl, request.method, response.url, response, received);
    return response;
  };
}

/** Asserts an api.md §1 problem: status, content type, code and the echoed request id. */
export function assertProblem(res: ApiResponse, status: number, code: string): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.equal(res.body.code, code);
  assert.equal(res.body.requestId, res.headers.get('x-request-id'));
}
