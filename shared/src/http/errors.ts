/** A field-level validation problem, as listed in a problem+json `errors` array. */
export interface FieldError {
  path: string;
  message: string;
}

/** Stable machine codes of api.md §1. */
export type ErrorCode =
  | 'VALIDATION_FAILED'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'POLICY_DENIED'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'CONFLICT'
  | 'LIMIT_REACHED'
  | 'OWNER_MUST_TRANSFER'
  | 'PRECONDITION_FAILED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'RATE_LIMITED'
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_TIMEOUT'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'IDEMPOTENCY_IN_PROGRESS'
  | 'INTERNAL';

const TITLES: Record<ErrorCode, string> = {
  VALIDATION_FAILED: 'Validation failed',
  UNAUTHENTICATED: 'Authentication required',
  FORBIDDEN: 'Forbidden',
  POLICY_DENIED: 'Denied by policy',
  NOT_FOUND: 'Not found',
  METHOD_NOT_ALLOWED: 'Method not allowed',
  CONFLICT: 'Conflict',
  LIMIT_REACHED: 'Limit reached',
  OWNER_MUST_TRANSFER: 'Owner must transfer ownership first',
  PRECONDITION_FAILED: 'Precondition failed',
  PAYLOAD_TOO_LARGE: 'Payload too large',
  UNSUPPORTED_MEDIA_TYPE: 'Unsupported media type',
  RATE_LIMITED: 'Too many requests',
  UPSTREAM_UNAVAILABLE: 'Upstream unavailable',
  UPSTREAM_TIMEOUT: 'Upstream timeout',
  IDEMPOTENCY_KEY_REUSED: 'Idempotency key reused',
  IDEMPOTENCY_IN_PROGRESS: 'Idempotent request in progress',
  INTERNAL: 'Internal error',
};

export interface AppErrorOptions {
  detail?: string;
  errors?: FieldError[];
  /** Extra members of the problem body (e.g. `policy` for POLICY_DENIED). */
  extensions?: Record<string, unknown>;
  /** Response headers to set (e.g. Retry-After). */
  headers?: Record<string, string>;
}

/**
 * An operational error: an expected outcome the client should be told about.
 * Anything else reaching the error handler is a programmer error (500, logged).
 */
export class AppError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly title: string;
  readonly errors: FieldError[] | undefined;
  readonly extensions: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(status: number, code: ErrorCode, options: AppErrorOptions = {}) {
    super(options.detail ?? TITLES[code]);
    this.name = 'AppError';
    this.status = status;
    this.code = code;
    this.title = TITLES[code];
    this.errors = options.errors;
    this.extensions = options.extensions ?? {};
    this.headers = options.headers ?? {};
  }
}

export const errors = {
  validation: (errors: FieldError[], status: 400 | 422 = 400, detail?: string) =>
    new AppError(status, 'VALIDATION_FAILED', { errors, detail: detail ?? 'The request is not valid.' }),
  unauthenticated: (detail = 'A valid access token is required.') =>
    new AppError(401, 'UNAUTHENTICATED', { detail }),
  forbidden: (detail = 'You may not do this.') => new AppError(403, 'FORBIDDEN', { detail }),
  notFound: (what = 'resource') => new AppError(404, 'NOT_FOUND', { detail: `The ${what} does not exist.` }),
  conflict: (detail: string) => new AppError(409, 'CONFLICT', { detail }),
  preconditionFailed: (detail = 'The resource has changed; fetch it again.') =>
    new AppError(412, 'PRECONDITION_FAILED', { detail }),
  rateLimited: (retryAfterSeconds: number) =>
    new AppError(429, 'RATE_LIMITED', {
      detail: `Too many requests; retry in ${retryAfterSeconds} s.`,
      headers: { 'Retry-After': String(retryAfterSeconds) },
    }),
};

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  requestId: string | undefined;
  errors?: FieldError[];
  [extension: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export function problemBody(error: AppError, requestId: string | undefined): ProblemBody {
  return {
    ...error.extensions,
    type: `https://trellis.dev/problems/${error.code.toLowerCase().replaceAll('_', '-')}`,
    title: error.title,
    status: error.status,
    detail: error.message,
    code: error.code,
    requestId,
    ...(error.errors ? { errors: error.errors } : {}),
  };
}

/** Every code a problem can carry (the OpenAPI documents list them). */
export const ERROR_CODES = Object.keys(TITLES) as ErrorCode[];
