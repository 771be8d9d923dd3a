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
    else if (error && typeof error === 'object') problem = fromHttpError(error as HttpLikeError);

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
