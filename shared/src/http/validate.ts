import type { RequestHandler } from 'express';
import { z, type ZodError, type ZodType } from 'zod';
import { AppError, type FieldError } from './errors.ts';

export function fieldErrorsFrom(error: ZodError): FieldError[] {
  return error.issues.map((issue) => ({
    path: issue.path.length ? issue.path.map(String).join('.') : '(root)',
    message: issue.message,
  }));
}

type Part = 'body' | 'query' | 'params';

/** Parses a value or throws a 400 problem naming each offending field, prefixed by where it came from. */
export function parse<S extends ZodType>(schema: S, value: unknown, part: Part = 'body'): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new AppError(400, 'VALIDATION_FAILED', {
    detail: `The request ${part} is not valid.`,
    errors: fieldErrorsFrom(result.error).map((e) => ({
      ...e,
      path: e.path === '(root)' ? part : `${part}.${e.path}`,
    })),
  });
}

export interface RequestSchemas {
  body?: ZodType;
  query?: ZodType;
  params?: ZodType;
}

/**
 * Validates and replaces `req.body`, `req.query` and `req.params` with their parsed values, so a
 * handler only ever sees input that passed its schema. Problems of all parts are reported at once.
 */
export function validate(schemas: RequestSchemas): RequestHandler {
  return (req, _res, next) => {
    const problems: FieldError[] = [];
    const check = (part: Part, schema: ZodType | undefined, value: unknown): unknown => {
      if (!schema) return value;
      try {
        return parse(schema, value, part);
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        problems.push(...(err.errors ?? []));
        return value;
      }
    };
    const params = check('params', schemas.params, req.params);
    const query = check('query', schemas.query, req.query);
    const body = check('body', schemas.body, req.body ?? {});
    if (problems.length)
      throw new AppError(400, 'VALIDATION_FAILED', { detail: 'The request is not valid.', errors: problems });
    req.params = params as typeof req.params;
    // Express 5 exposes req.query as a getter; shadow it with the parsed value.
    Object.defineProperty(req, 'query', { value: query, writable: true });
    req.body = body;
    next();
  };
}

/** `?limit=` of api.md §1: 1–100, default 50. */
export const limitSchema = z.coerce.number().int().min(1).max(100).default(50);

/**
 * A PATCH body: the given fields, no others, and at least one of them. The document states it
 * (`additionalProperties: false`, `minProperties: 1`), so a body the document allows is one the
 * service takes.
 */
export function patchBody<Shape extends z.ZodRawShape>(shape: Shape, message = 'Give at least one field') {
  return z
    .strictObject(shape)
    .refine((body) => Object.values(body).some((value) => value !== undefined), { message })
    .meta({ minProperties: 1 });
}
