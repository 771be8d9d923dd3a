import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { ZodError } from 'zod';
import { AppError, PROBLEM_CONTENT_TYPE, problemBody } from './errors.ts';
import { fieldErrorsFrom } from './validate.ts';

export function sendProblem(res: Response, error: AppError, requestId: string | undefined): void {
  for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  res
    .status(error.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(problemBody(error, requestId)));
}

interface HttpLikeError {
  status?: number;
  statusCode?: number;
  type?: string;
  expose?: boolean;
}

/** Errors raised by express/body-parser before our code runs, mapped to problems a client can act on. */
function fromHttpError(error: HttpLikeError): AppError | undefined {
  const status = error.status ?? error.statusCode;
  if (!status || status < 400 || status >= 500) return undefined;
  switch (error.type) {
    case 'entity.parse.failed':
      return new AppError(400, 'VALIDATION_FAILED', {
        detail: 'The body is not valid JSON.',
        errors: [{ path: '(body)', message: 'Malformed JSON' }],
      });
    case 'entity.too.large':
      return new AppError(413, 'PAYLOAD_TOO_LARGE', { detail: 'The body is larger than allowed.' });
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', { detail: 'Unsupported body encoding.' });
    default:
      return new AppError(400, 'VALIDATION_FAILED', { detail: 'The request is not valid.' });
  }
}

interface StoreError {
  name?: string;
  message?: string;
  code?: unknown;
  column?: string;
  parent?: StoreError;
  original?: StoreError;
  cause?: StoreError;
}

/** PostgreSQL SQLSTATE classes raised by the data itself: 22 data exception, 54 program limit exceeded. */
const PG_DATA_CLASSES = ['22', '54'];
/** MongoDB (and FerretDB) codes for documents it cannot take: BadValue, FailedToParse, TypeMismatch,
 * DollarPrefixedFieldName, BSONObjectTooLarge, KeyTooLong. */
const MONGO_DATA_CODES = new Set([2, 9, 14, 52, 10334, 17280]);

/**
 * A store refusing the data it was given (a value out of range, text it cannot encode, a document
 * too large) is the request's fault, not ours: 400, naming the column when the store does. The
 * input edge (`storableInput`, the schemas) should catch these first; this is the net behind it.
 */
function fromStoreError(error: StoreError): AppError | undefined {
  for (let e: StoreError | undefined = error, depth = 0; e && depth < 4; depth += 1) {
    const code = e.code;
    const pg =
      typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && PG_DATA_CLASSES.includes(code.slice(0, 2));
    const mongo =
      e.name === 'BSONError' || (e.name === 'MongoServerError' && MONGO_DATA_CODES.has(Number(code)));
    if (pg || mongo) {
      return new AppError(400, 'VALIDATION_FAILED', {
        detail: 'A value in the request cannot be stored.',
        errors: [{ path: e.column ?? '(request)', message: 'Out of range or not storable' }],
      });
    }
    e = e.parent ?? e.original ?? e.cause;
  }
  return undefined;
}

/**
 * A store down or overloaded, not a bad request: PostgreSQL SQLSTATEs (connection exception,
 * insufficient resources, shutdown), socket errors, and the driver's words for a dropped connection.
 */
const PG_OUTAGE = /^(08|53|57P0[1-3])/;
const SOCKET_OUTAGE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH']);
const DROPPED_CONNECTION = /^Connection terminated/;
const OUTAGE_ERRORS = new Set([
  'SequelizeConnectionError',
  'SequelizeConnectionRefusedError',
  'SequelizeConnectionTimedOutError',
  'SequelizeConnectionAcquireTimeoutError',
  'SequelizeHostNotFoundError',
  'SequelizeHostNotReachableError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoServerSelectionError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
]);
/** Seconds a client should wait before retrying while a store is down. */
const OUTAGE_RETRY_AFTER_SECONDS = 5;

/**
 * A store that cannot be reached (down, restarting, out of connections) is a 503 the client may
 * retry, not a 500: nothing about the request was wrong (product.md §11).
 */
function fromStoreOutage(error: StoreError): AppError | undefined {
  for (let e: StoreError | undefined = error, depth = 0; e && depth < 4; depth += 1) {
    const code = typeof e.code === 'string' ? e.code : '';
    const down =
      PG_OUTAGE.test(code) ||
      SOCKET_OUTAGE.has(code) ||
      (e.name !== undefined && OUTAGE_ERRORS.has(e.name)) ||
      DROPPED_CONNECTION.test(e.message ?? '');
    if (down) {
      return new AppError(503, 'UPSTREAM_UNAVAILABLE', {
        detail: 'A store this service needs is unavailable; retry shortly.',
        headers: { 'Retry-After': String(OUTAGE_RETRY_AFTER_SECONDS) },
      });
    }
    e = e.parent ?? e.original ?? e.cause;
  }
  return undefined;
}

/**
 * The one place errors become responses: operational errors (AppError, validation, malformed
 * bodies) are answered as problem+json; anything else is a programmer error, logged in full and
 * answered as a bare 500 that leaks nothing.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    let problem: AppError | undefined;
    if (error instanceof AppError) problem = error;
    else if (error instanceof ZodError)
      problem = new AppError(400, 'VALIDATION_FAILED', { errors: fieldErrorsFrom(error) });
    else if (error && typeof error === 'object') {
      problem = fromHttpError(error as HttpLikeError);
      if (!problem) {
        problem = fromStoreError(error as StoreError);
        if (problem)
          logger.warn({ err: error, requestId: req.id }, 'the store refused a value of the request');
      }
      if (!problem) {
        problem = fromStoreOutage(error as StoreError);
        if (problem) logger.error({ err: error, requestId: req.id }, 'a store is unavailable');
      }
    }

    if (!problem) {
      logger.error({ err: error, requestId: req.id }, 'unhandled error');
      problem = new AppError(500, 'INTERNAL', { detail: 'Something went wrong on our side.' });
    }
    sendProblem(res, problem, req.id);
  };
}

export function notFoundHandler(): RequestHandler {
  return (req, _res, next) =>
    next(new AppError(404, 'NOT_FOUND', { detail: `No route for ${req.method} ${req.path}.` }));
}
