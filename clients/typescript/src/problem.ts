/** One invalid field of a 400/422 answer (api.md §1). */
export interface FieldError {
  path: string;
  message: string;
}

/** Why the policy engine refused (403 POLICY_DENIED): the action, the role it needs and yours. */
export interface PolicyReason {
  scope: 'org' | 'team' | 'project';
  action: string;
  requiredRole: string;
  yourRole: string | null;
}

/** An `application/problem+json` answer, thrown by `unwrap` and by the client's helpers. */
export class TrellisProblem extends Error {
  readonly status: number;
  /** The stable machine code: `VALIDATION_FAILED`, `POLICY_DENIED`, `NOT_FOUND`, … */
  readonly code: string;
  readonly title: string;
  readonly detail: string | undefined;
  readonly requestId: string | undefined;
  /** Field errors of a validation problem, else empty. */
  readonly errors: FieldError[];
  /** The policy reason of a POLICY_DENIED, else undefined. */
  readonly policy: PolicyReason | undefined;
  /** Seconds to wait before trying again (429, 503), when the server said. */
  readonly retryAfter: number | undefined;
  /** The whole body, extensions included. */
  readonly body: Record<string, unknown>;

  constructor(status: number, body: Record<string, unknown>, headers?: Headers) {
    const code = typeof body.code === 'string' ? body.code : `HTTP_${status}`;
    const title = typeof body.title === 'string' ? body.title : `HTTP ${status}`;
    const detail = typeof body.detail === 'string' ? body.detail : undefined;
    super(detail ? `${code}: ${detail}` : `${code}: ${title}`);
    this.name = 'TrellisProblem';
    this.status = status;
    this.code = code;
    this.title = title;
    this.detail = detail;
    this.requestId = typeof body.requestId === 'string' ? body.requestId : undefined;
    this.errors = Array.isArray(body.errors) ? (body.errors as FieldError[]) : [];
    this.policy = (body.policy as PolicyReason | undefined) ?? undefined;
    const after = Number(headers?.get('retry-after'));
    this.retryAfter = Number.isFinite(after) && after > 0 ? after : undefined;
    this.body = body;
  }
}

/**
 * The data of an openapi-fetch call, or its problem thrown:
 * `const task = await unwrap(api.GET('/api/v1/tasks/{id}', { params: { path: { id } } }))`.
 */
export async function unwrap<D>(
  pending: Promise<{ data?: D; error?: unknown; response: Response }>,
): Promise<D> {
  const { data, error, response } = await pending;
  if (response.ok) return data as D;
  const body =
    error && typeof error === 'object' ? (error as Record<string, unknown>) : { detail: String(error) };
  throw new TrellisProblem(response.status, body, response.headers);
}
