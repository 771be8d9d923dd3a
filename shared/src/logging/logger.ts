import { pino, type Logger } from 'pino';
import { currentRequestContext } from '../http/request-context.ts';

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

/** Every line written while a request, or an event it caused, is handled names that request. */
export function requestIdMixin(): { requestId?: string } {
  const context = currentRequestContext();
  return context ? { requestId: context.requestId } : {};
}

export function createLogger(service: string, level: string = 'info'): Logger {
  return pino({
    name: service,
    level,
    base: { service },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    mixin: requestIdMixin,
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
