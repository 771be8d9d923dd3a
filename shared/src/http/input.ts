import type { RequestHandler } from 'express';
import { z } from 'zod';
import { errors, type FieldError } from './errors.ts';

/**
 * The edge of the domain: what every request's text and dates must satisfy before any schema or
 * store sees them. PostgreSQL refuses NUL in text and jsonb, MongoDB drivers cannot encode lone
 * surrogates, and neither belongs in a name or a title; non-characters are reserved by Unicode for
 * internal use and never valid interchange. Refused, not stripped: a client that sent them gets
 * told which field, and nothing is stored that differs from what was sent.
 */
const NON_CHARACTER = /\p{Noncharacter_Code_Point}/u;

/** Why a string cannot be stored, or undefined when it can. */
export function unstorableText(value: string): string | undefined {
  if (value.includes('\u0000')) return 'Contains a NUL character (U+0000)';
  if (!value.isWellFormed()) return 'Contains a lone UTF-16 surrogate (not valid Unicode text)';
  const found = NON_CHARACTER.exec(value);
  if (!found) return undefined;
  const code = found[0].codePointAt(0)!;
  return `Contains the Unicode non-character U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Nested containers deeper than this are refused (a JSON body is bounded in size, not in depth). */
const MAX_DEPTH = 32;

/**
 * Every string (and object key) in `value` that cannot be stored, as field errors under `part`
 * (`body.title`, `query.q`, `params.id`). Arrays and objects are walked; other values pass.
 */
export function unstorableFields(value: unknown, part: string): FieldError[] {
  const problems: FieldError[] = [];
  const walk = (node: unknown, path: string, depth: number): void => {
    if (typeof node === 'string') {
      const message = unstorableText(node);
      if (message) problems.push({ path, message });
      return;
    }
    if (node === null || typeof node !== 'object') return;
    if (depth > MAX_DEPTH) {
      problems.push({ path, message: `Nested deeper than ${MAX_DEPTH} levels` });
      return;
    }
    for (const [key, child] of Object.entries(node)) {
      const keyProblem = unstorableText(key);
      const childPath = keyProblem ? `${path}[${JSON.stringify(key.slice(0, 40))}]` : `${path}.${key}`;
      if (keyProblem) problems.push({ path: childPath, message: `Its name: ${keyProblem}` });
      else walk(child, childPath, depth + 1);
    }
  };
  walk(value, part, 0);
  return problems;
}

/** The path's segments as the router will decode them; a malformed escape is the router's to refuse. */
function pathSegments(path: string): string[] {
  return path.split('/').map((segment) => {
    try {
      return decodeURIComponent(segment);
    } catch {
      return '';
    }
  });
}

/**
 * Refuses, with 400 and a field error for each, any request whose path, query or JSON body holds
 * text that cannot be stored (see `unstorableText`). Runs once in every service, after the body
 * parser and before any route, so no handler, schema or store ever sees such text.
 */
export function storableInput(): RequestHandler {
  return (req, _res, next) => {
    const problems = [
      ...pathSegments(req.path).flatMap((segment, i) => unstorableFields(segment, `path[${i}]`)),
      ...unstorableFields(req.query, 'query'),
      ...unstorableFields(req.body, 'body'),
    ];
    if (problems.length)
      throw errors.validation(problems, 400, 'The request holds text that cannot be stored.');
    next();
  };
}

/**
 * What `String.prototype.trim` removes (ECMAScript's WhiteSpace and LineTerminator), spelled out so
 * that a pattern in the document means the same in every regex engine (Python's `\s` differs).
 */
const BLANKS = '\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff';
const NOT_BLANK = new RegExp(`[^${BLANKS}]`);
const notBlank = { message: 'Must not be blank' };

/*
 * Text fields, each rule stated by the document (lengths count the text as sent, a pattern says
 * "not blank"), so a value the document allows is one the service takes, and the other way round.
 */
/** Trimmed text with something in it, at most `max` characters as sent. */
export const text = (max: number) => z.string().max(max).regex(NOT_BLANK, notBlank).trim();
/** Trimmed text that may be empty, at most `max` characters as sent. */
export const blankableText = (max: number) => z.string().max(max).trim();
/** Text kept as sent (Markdown, chat), not blank, at most `max` characters. */
export const verbatimText = (max: number) => z.string().max(max).regex(NOT_BLANK, notBlank);

/**
 * `?x=a,b`: items matching `item` (a regex source) separated by commas, blanks around them ignored,
 * as one pattern the document states; gives the trimmed items. `emptyItems: 'skipped'` lets items
 * be left out (`a,,b`, or nothing at all). Each blank run has one place to go in the pattern, so it
 * cannot backtrack without end (`", , , …!"`).
 */
export function commaList(
  item: string,
  options: { message: string; emptyItems?: 'skipped' | 'refused'; max?: number },
) {
  const one = options.emptyItems === 'skipped' ? `((${item})\\s*)?` : `(${item})\\s*`;
  const pattern = new RegExp(`^\\s*${one}(,\\s*${one})*$`);
  const list = options.max === undefined ? z.string() : z.string().max(options.max);
  return list.regex(pattern, { message: options.message }).transform((value) =>
    value
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean),
  );
}

/** Calendar years a date may name: PostgreSQL and JavaScript agree on them, and no plan needs more. */
export const MIN_YEAR = 1900;
export const MAX_YEAR = 9999;
/**
 * The rules as patterns, so the document states them: years 1900–9999, and real time-zone
 * offsets (−12:00 to +14:00; the pattern takes up to ±14:00).
 */
const YEAR_IN_RANGE = /^(19\d\d|[2-9]\d\d\d)-/;
const OFFSET_IN_RANGE = /(Z|[+-](0\d|1[0-3]):[0-5]\d|[+-]14:00)$/;

const yearMessage = `The year must be between ${MIN_YEAR} and ${MAX_YEAR}`;

/** A calendar date `YYYY-MM-DD` within the supported years. */
export const isoDate = () =>
  z.iso
    .date()
    .regex(YEAR_IN_RANGE, { message: yearMessage }) // `.regex` makes zod forget the format: said again.
    .meta({ format: 'date', example: '2026-03-31' });

/** An RFC 3339 date-time with `Z` or an offset up to ±14:00, within the supported years. */
export const isoDateTime = () =>
  z.iso
    .datetime({ offset: true })
    .regex(YEAR_IN_RANGE, { message: yearMessage })
    .regex(OFFSET_IN_RANGE, { message: 'The time-zone offset must be between -14:00 and +14:00' })
    .meta({ format: 'date-time', example: '2026-03-31T09:30:00Z' });

/**
 * The longest address mail servers take: RFC 5321 caps a path at 256 octets with its angle
 * brackets, and common servers (smtp-server among them) count 253 for the address itself.
 */
export const MAX_EMAIL_LENGTH = 253;

/**
 * An address: dot-separated atoms (not ending in an apostrophe), @, dot-separated host labels
 * (letters, digits and inner dashes, as DNS and mail servers take them) and a top level of letters.
 * Every address it takes is one the events' `z.email()` takes too. Written
 * without lookarounds, so the document's patterns are the rule itself (a client generator or
 * schemathesis draws from them) — leading and trailing blanks included, since they are trimmed.
 */
const EMAIL_PATTERN =
  /^\s*([A-Za-z0-9_'+-]+\.)*[A-Za-z0-9_'+-]*[A-Za-z0-9_+-]@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\s*$/;
const LOCAL_PART_PATTERN = /^\s*[^@\s]{1,64}@/;

/** An e-mail address a mail server will take: local part ≤ 64, whole ≤ 253 (blanks counted), trimmed. */
export const emailAddress = () =>
  z
    .string()
    .max(MAX_EMAIL_LENGTH)
    .regex(EMAIL_PATTERN, { message: 'Invalid email address' })
    .regex(LOCAL_PART_PATTERN, { message: 'The part before @ is at most 64 characters' })
    .trim()
    .meta({ example: 'ada@example.com' });
