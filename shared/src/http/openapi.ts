import { z, type ZodType } from 'zod';

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
}

function jsonSchema(schema: ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' });
  return rest;
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

/**
 * An OpenAPI 3.1 document generated from the same zod schemas that validate the requests, so
 * the documentation cannot drift from the behaviour. The gateway merges the services' documents.
 */
export function openApiDocument(info: { title: string; version: string }, routes: RouteDoc[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    paths[route.path] ??= {};
    // api.md §1: every authenticated POST takes an Idempotency-Key (see http/idempotency.ts).
    const keyed = route.method === 'post' && route.auth !== false && route.idempotent !== false;
    const responses = keyed ? { ...IDEMPOTENCY_RESPONSES, ...route.responses } : route.responses;
    paths[route.path]![route.method] = {
      operationId: route.operationId ?? operationIdOf(route.method, route.path),
      summary: route.summary,
      tags: route.tags,
      security: route.auth === false ? [] : [{ bearer: [] }],
      parameters: [
        ...parameters(route.params, 'path'),
        ...parameters(route.query, 'query'),
        ...(keyed ? [IDEMPOTENCY_KEY_PARAMETER] : []),
      ],
      ...(route.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: jsonSchema(route.body, 'input') } },
            },
          }
        : {}),
      responses: Object.fromEntries(
        Object.entries(responses).map(([status, response]) => [
          status,
          {
            description: response.description,
            ...(response.schema
              ? { content: { 'application/json': { schema: jsonSchema(response.schema, 'output') } } }
              : {}),
          },
        ]),
      ),
    };
  }
  return {
    openapi: '3.1.0',
    info,
    paths,
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
  };
}
