import { z, type ZodType } from 'zod';
import { ERROR_CODES } from './errors.ts';
import { exampleOf } from './openapi-examples.ts';

export interface RouteDoc {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** OpenAPI style, as clients call it through the gateway: `/api/v1/users/{id}`. */
  path: string;
  summary: string;
  tags?: string[];
  /** Public routes say false; everything else needs a bearer token. */
  auth?: boolean;
  /** False: an authenticated POST that takes no Idempotency-Key (its body holds a password). */
  idempotent?: boolean;
  /** Stable camelCase id for client generators; derived from method and path when not given. */
  operationId?: string;
  params?: ZodType;
  query?: ZodType;
  body?: ZodType;
  responses: Record<number, { description: string; schema?: ZodType }>;
  /** Who may call it, by the rule book; published as `x-policy` (see RoutePolicy). */
  policy?: RoutePolicy;
}

/**
 * The rule a route is decided by, as clients and the authorization walk read it (`x-policy`):
 * - `{scope, action}`: a catalogue action (shared/src/policy) on the object the path names: below
 *   its role, 403 POLICY_DENIED with `policy`;
 * - `access`: any role on that object (reads; none is a 404);
 * - `personal`: whoever the object is theirs (an author, a requester, the invitee), whatever their role;
 * - `self`: the caller's own data only.
 */
export type RoutePolicy =
  { scope: 'org' | 'team' | 'project'; action: string } | 'access' | 'personal' | 'self';

/**
 * Named schemas (`.meta({ id: 'Task' })` on a zod schema) shared by the document's operations: zod
 * puts them in each schema's `$defs`; they move to `components.schemas` and every `$ref` follows. A
 * name whose input shape differs from its output shape is given as `<name>Input` for requests.
 */
class NamedSchemas {
  readonly schemas: Record<string, unknown> = {};

  convert(schema: ZodType, io: 'input' | 'output'): Record<string, unknown> {
    const {
      $schema: _ignored,
      $defs,
      ...rest
    } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown> & {
      $defs?: Record<string, unknown>;
    };
    const names = new Map<string, string>();
    for (const [name, definition] of Object.entries($defs ?? {})) {
      const existing = this.schemas[name];
      const same = existing === undefined || JSON.stringify(existing) === JSON.stringify(definition);
      const named = same ? name : `${name}${io === 'input' ? 'Input' : 'Output'}`;
      names.set(name, named);
    }
    const rewrite = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(rewrite);
      if (!value || typeof value !== 'object') return value;
      return Object.fromEntries(
        Object.entries(realistic(value as Record<string, unknown>)).map(([key, inner]) => {
          if (key === '$ref' && typeof inner === 'string' && inner.startsWith('#/$defs/')) {
            const name = inner.slice('#/$defs/'.length);
            return [key, `#/components/schemas/${names.get(name) ?? name}`];
          }
          return [key, rewrite(inner)];
        }),
      );
    };
    for (const [name, definition] of Object.entries($defs ?? {}))
      this.schemas[names.get(name) ?? name] = rewrite(definition);
    return rewrite(rest) as Record<string, unknown>;
  }
}

/**
 * What a sample generator (Swagger UI, client generators) should go by: the `format` of a date, a
 * time or a UUID rather than zod's long pattern for it (which made samples like year 1716; rules of
 * ours on such a string, a year range, stay), and no
 * ±2^53 bounds zod puts on every integer (which made `version: -9007199254740991`).
 */
function realistic(schema: Record<string, unknown>): Record<string, unknown> {
  // A schema node has a string type (or a list of them); a `properties` map has field names as keys.
  const node = typeof schema.type === 'string' || Array.isArray(schema.type);
  if (!node) return schema;
  const { pattern, allOf, minimum, maximum, ...rest } = schema;
  const formatted = ['date-time', 'date', 'time', 'uuid', 'email'].includes(String(schema.format));
  const keepPattern = pattern !== undefined && !formatted;
  // A formatted string with rules of ours too (`isoDate`'s years): zod lists the format's own pattern
  // first in `allOf`, then ours; the format says the first, ours stay.
  const patterns =
    Array.isArray(allOf) && allOf.every((part) => Object.keys(part as object).join() === 'pattern');
  const kept = Array.isArray(allOf) && patterns && formatted ? allOf.slice(1) : allOf;
  return {
    ...rest,
    ...(keepPattern ? { pattern } : {}),
    ...(Array.isArray(kept) && kept.length > 1 ? { allOf: kept } : {}),
    ...(Array.isArray(kept) && kept.length === 1 ? (kept[0] as object) : {}),
    ...(minimum !== undefined && minimum !== Number.MIN_SAFE_INTEGER ? { minimum } : {}),
    ...(maximum !== undefined && maximum !== Number.MAX_SAFE_INTEGER ? { maximum } : {}),
  };
}

/** One schema on its own (a parameter list), without named parts. */
function jsonSchema(schema: ZodType, io: 'input' | 'output'): Record<string, unknown> {
  return new NamedSchemas().convert(schema, io);
}

function parameters(schema: ZodType | undefined, where: 'path' | 'query') {
  if (!schema) return [];
  const object = jsonSchema(schema, 'input') as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(object.properties ?? {}).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || (object.required ?? []).includes(name),
    schema: property,
  }));
}

const camel = (words: string[]) =>
  words
    .flatMap((w) => w.split(/[-_]/))
    .filter(Boolean)
    .map((w, i) => (i === 0 ? w : `${w[0]!.toUpperCase()}${w.slice(1)}`))
    .join('');
const singular = (word: string) => (word.endsWith('ies') ? `${word.slice(0, -3)}y` : word.replace(/s$/, ''));
const VERBS = { get: 'get', post: 'create', put: 'replace', patch: 'update', delete: 'delete' } as const;

/**
 * A stable operationId from the route: the verb, then the path's words, each resource singular where
 * an id follows it — `GET /projects/{id}/tasks` → `listProjectTasks`, `GET /tasks/{id}` → `getTask`,
 * `POST /orgs` → `createOrg`, and an action after an id its own verb: `POST /orgs/{orgId}/restore` →
 * `restoreOrg`, `POST /webhooks/{id}/rotate-secret` → `rotateSecretWebhook`.
 */
export function operationIdOf(method: RouteDoc['method'], path: string): string {
  const parts = path.replace(/^\/api\/v1\//, '').split('/');
  const words: string[] = [];
  parts.forEach((part, i) => {
    if (part.startsWith('{')) return;
    const beforeId = parts[i + 1]?.startsWith('{') ?? false;
    words.push(beforeId ? singular(part) : part);
  });
  const last = parts.at(-1) ?? '';
  const afterId = parts.at(-2)?.startsWith('{') ?? false;
  const collection = !last.startsWith('{') && /s$/.test(last);
  if (method === 'post' && afterId && !collection) return camel([last, ...words.slice(0, -1)]);
  if (method === 'post' && !collection && !last.startsWith('{')) return camel([last, ...words.slice(0, -1)]);
  const verb = method === 'get' && collection ? 'list' : VERBS[method];
  if (method === 'post' && collection) words[words.length - 1] = singular(words.at(-1)!);
  return camel([verb, ...words]);
}

const IDEMPOTENCY_KEY_PARAMETER = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description:
    'Makes a retry safe: the same key with the same request answers the first answer again (Idempotency-Replayed: true), for 24 h.',
  schema: { type: 'string', minLength: 1, maxLength: 255 },
};

const IDEMPOTENCY_RESPONSES: RouteDoc['responses'] = {
  409: { description: 'IDEMPOTENCY_IN_PROGRESS: a request with this key is still running' },
  422: { description: 'IDEMPOTENCY_KEY_REUSED: this key was used for another request' },
};

const header = (description: string, schema: Record<string, unknown> = { type: 'string' }) => ({
  description,
  schema,
});
const HEADERS = {
  'X-Request-Id': header('The request id, also in every log line and event the request caused'),
  ETag: header('The version of the resource, for If-Match and If-None-Match'),
  Location: header('Where the created resource is'),
  Link: header('`<…>; rel="next"`: the next page, relative to the request'),
  'Idempotency-Replayed': header(
    '`true` when this is the stored answer to an earlier request with this Idempotency-Key',
  ),
  'Retry-After': header('Seconds to wait before trying again', { type: 'integer', minimum: 0 }),
  'RateLimit-Limit': header('Requests allowed per window (IETF RateLimit header fields, draft 6)', {
    type: 'integer',
  }),
  'RateLimit-Remaining': header('Requests left in the current window', { type: 'integer' }),
  'RateLimit-Reset': header('Seconds until the window resets', { type: 'integer' }),
};
const ref = (name: keyof typeof HEADERS) => ({ $ref: `#/components/headers/${name}` });

/** api.md §1: every error is `application/problem+json`. */
const SCHEMAS = {
  Problem: {
    type: 'object',
    required: ['type', 'title', 'status', 'detail', 'code'],
    properties: {
      type: { type: 'string', format: 'uri', examples: ['https://trellis.dev/problems/not-found'] },
      title: { type: 'string', examples: ['Not found'] },
      status: { type: 'integer', minimum: 400, maximum: 599, examples: [404] },
      detail: { type: 'string', examples: ['The task does not exist.'] },
      code: { type: 'string', enum: [...ERROR_CODES] },
      requestId: { type: 'string', examples: ['6f1c2a4e-8b1d-4c55-9d0e-2f3a4b5c6d7e'] },
      errors: { type: 'array', items: { $ref: '#/components/schemas/FieldError' } },
      policy: { $ref: '#/components/schemas/PolicyReason' },
    },
  },
  FieldError: {
    type: 'object',
    required: ['path', 'message'],
    properties: {
      path: { type: 'string', examples: ['body.title'] },
      message: { type: 'string', examples: ['Too small: expected string to have >=1 characters'] },
    },
  },
  PolicyReason: {
    type: 'object',
    required: ['scope', 'action', 'requiredRole', 'yourRole'],
    properties: {
      scope: { type: 'string', enum: ['org', 'team', 'project'] },
      action: { type: 'string', examples: ['project.create'] },
      requiredRole: { type: 'string', examples: ['ADMIN'] },
      yourRole: { type: ['string', 'null'], examples: ['MEMBER'] },
    },
  },
  ValidationProblem: {
    allOf: [{ $ref: '#/components/schemas/Problem' }, { type: 'object', required: ['errors'] }],
  },
  PolicyProblem: {
    allOf: [{ $ref: '#/components/schemas/Problem' }, { type: 'object', required: ['policy'] }],
  },
};

/** Answers every operation can give whatever it does: the gateway's limits and breakers, the token check. */
const COMMON_ERRORS: RouteDoc['responses'] = {
  400: {
    description:
      'VALIDATION_FAILED: malformed input (JSON, a header, a parameter); `errors` names each field',
  },
  429: { description: 'RATE_LIMITED: too many requests; Retry-After says when to try again' },
  503: {
    description: 'UPSTREAM_UNAVAILABLE: the service or its store is down; Retry-After says when to try again',
  },
};
const PROTECTED_ERRORS: RouteDoc['responses'] = {
  401: { description: 'UNAUTHENTICATED: no valid, unrevoked access token' },
};
/** A path that names an object may name one that does not exist, or that the caller cannot see. */
const NAMED_OBJECT: RouteDoc['responses'] = {
  404: { description: 'NOT_FOUND: no such object, or you cannot see it (another tenant’s answers the same)' },
};

function problemSchema(status: number): Record<string, unknown> {
  if (status === 400) return { $ref: '#/components/schemas/ValidationProblem' };
  // A 403 is a policy denial (with `policy`) or a membership rule's FORBIDDEN (without).
  if (status === 403)
    return {
      anyOf: [{ $ref: '#/components/schemas/PolicyProblem' }, { $ref: '#/components/schemas/Problem' }],
    };
  return { $ref: '#/components/schemas/Problem' };
}

/** The headers a response declares: request id and rate limit always, the rest where they apply. */
function responseHeaders(
  route: RouteDoc,
  status: number,
  description: string,
  keyed: boolean,
  paged: boolean,
) {
  const names: (keyof typeof HEADERS)[] = [
    'X-Request-Id',
    'RateLimit-Limit',
    'RateLimit-Remaining',
    'RateLimit-Reset',
  ];
  if (status < 300) {
    if (/ETag/.test(description)) names.push('ETag');
    if (status === 201 || /Location/.test(description)) names.push('Location');
    if (keyed) names.push('Idempotency-Replayed');
    if (paged && route.method === 'get') names.push('Link');
  }
  if (status === 429 || status === 503) names.push('Retry-After');
  return Object.fromEntries(names.map((name) => [name, ref(name)]));
}

/**
 * An OpenAPI 3.1 document generated from the same zod schemas that validate the requests, so
 * the documentation cannot drift from the behaviour. The gateway merges the services' documents.
 */
export function openApiDocument(info: { title: string; version: string }, routes: RouteDoc[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  const named = new NamedSchemas();
  for (const route of routes) {
    paths[route.path] ??= {};
    // api.md §1: every authenticated POST takes an Idempotency-Key (see http/idempotency.ts).
    const keyed = route.method === 'post' && route.auth !== false && route.idempotent !== false;
    const responses = {
      ...COMMON_ERRORS,
      ...(route.auth === false ? {} : PROTECTED_ERRORS),
      ...(route.params ? NAMED_OBJECT : {}),
      ...(keyed ? IDEMPOTENCY_RESPONSES : {}),
      ...route.responses,
    };
    paths[route.path]![route.method] = {
      operationId: route.operationId ?? operationIdOf(route.method, route.path),
      summary: route.summary,
      tags: route.tags,
      security: route.auth === false ? [] : [{ bearer: [] }],
      ...(route.policy ? { 'x-policy': route.policy } : {}),
      parameters: [
        ...parameters(route.params, 'path'),
        ...parameters(route.query, 'query'),
        ...(keyed ? [IDEMPOTENCY_KEY_PARAMETER] : []),
      ],
      ...(route.body
        ? {
            requestBody: {
              // `validate` reads a missing body as {}: where {} is valid input, the body is optional.
              required: !route.body.safeParse({}).success,
              content: { 'application/json': { schema: named.convert(route.body, 'input') } },
            },
          }
        : {}),
      responses: Object.fromEntries(
        Object.entries(responses).map(([status, response]) => {
          const code = Number(status);
          const schema = response.schema ? named.convert(response.schema, 'output') : undefined;
          const paged = Boolean(
            (schema as { properties?: Record<string, unknown> } | undefined)?.properties?.nextCursor,
          );
          const content =
            code >= 400
              ? { 'application/problem+json': { schema: problemSchema(code) } }
              : schema
                ? { 'application/json': { schema } }
                : undefined;
          return [
            status,
            {
              description: response.description,
              headers: responseHeaders(route, code, response.description, keyed, paged),
              ...(content ? { content } : {}),
            },
          ];
        }),
      ),
    };
  }
  const schemas = { ...named.schemas, ...SCHEMAS };
  // Every JSON body, asked or answered, gets an example made from its schema (Swagger UI shows it).
  for (const operation of Object.values(paths).flatMap((methods) => Object.values(methods))) {
    const { requestBody, responses } = operation as {
      requestBody?: { content: Record<string, { schema: unknown; example?: unknown }> };
      responses: Record<string, { content?: Record<string, { schema: unknown; example?: unknown }> }>;
    };
    const media = [
      ...Object.values(requestBody?.content ?? {}),
      ...Object.values(responses).flatMap((r) => Object.values(r.content ?? {})),
    ];
    for (const entry of media) {
      const example = exampleOf(entry.schema, schemas);
      if (example !== undefined) entry.example = example;
    }
  }
  return {
    openapi: '3.1.0',
    info,
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas,
      headers: HEADERS,
    },
  };
}
