import { pino, type Logger } from 'pino';
import { currentRequestContext } from '../http/request-context.ts';
import { traceLogFields } from '../observability/tracing.ts';

export type { Logger } from 'pino';

/** Paths whose values never reach a log line: credentials, tokens and codes. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  '*.currentPassword',
  '*.newPassword',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  // One-time codes travel in mail requests (`data.params.code` of `identity.mail`'s events). Not
  // every `*.code`: that hid error codes too (`"err":{"code":"[redacted]"}` for ECONNREFUSED).
  'params.code',
  '*.params.code',
  '*.data.params.code',
];

/** Query parameters whose values never reach a log line (a WebSocket's `?access_token=`, say). */
const REDACTED_QUERY = /([?&](?:access_token|refresh_token|token|code)=)[^&#]*/gi;

/** `url` with the values of credential-bearing query parameters replaced by `[redacted]`. */
export const redactUrl = (url: string): string => url.replace(REDACTED_QUERY, '$1[redacted]');

/** The system error code (`ECONNREFUSED`…) of `err` or of the first error it was caused by. */
function causeCode(err: unknown): string | undefined {
  let current = err;
  for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth += 1) {
    const { code, cause, originalError } = current as {
      code?: unknown;
      cause?: unknown;
      originalError?: unknown;
    };
    if (typeof code === 'string') return code;
    current = cause ?? originalError;
  }
  return undefined;
}

/**
 * pino's error serializer, plus the `code` of the error's cause when the error has none: a client
 * library's wrapper (kafkajs' "number of retries exceeded") would otherwise hide the ECONNREFUSED it
 * gave up on.
 */
export function serializeError(err: unknown): unknown {
  const serialized = pino.stdSerializers.err(err as Error) as unknown;
  if (serialized === null || typeof serialized !== 'object' || 'code' in serialized) return serialized;
  const code = causeCode(err);
  return code === undefined ? serialized : { ...serialized, code };
}

/**
 * Every line written while a request, or an event it caused, is handled names that request, and,
 * with tracing on, the trace and span it was written in.
 */
export function requestIdMixin(): { requestId?: string; traceId?: string; spanId?: string } {
  const context = currentRequestContext();
  const request = context ? { requestId: context.requestId } : {};
  const traced = traceLogFields();
  return traced.traceId ? { ...request, ...traced } : request;
}

export function createLogger(service: string, level: string = 'info'): Logger {
  return pino({
    name: service,
    level,
    base: { service },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: { err: serializeError },
    mixin: requestIdMixin,
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
