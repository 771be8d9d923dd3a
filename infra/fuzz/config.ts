// The schemathesis.toml of one target, written from its OpenAPI document and the fixtures: fuzz
// dictionaries that point path parameters, query parameters and body fields at real objects, the
// fuzzing user's token, and which operations hooks.py runs as another user.
import type { Fixtures, Tenant, TenantObject } from './fixtures.ts';

interface JsonSchema {
  $ref?: string;
  properties?: Record<string, unknown>;
}

interface Operation {
  parameters?: { name: string; in: string }[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

/**
 * `npm run test:contract`: what a schema-valid request may be answered besides success. 422 is the
 * API's answer to a well-formed request that breaks a rule no schema states (a reference to an object
 * the caller cannot use, a state, two fields together: api.md §1); 401, 403, 404, 409 and 429 as
 * schemathesis's defaults. Not 400: the document states what a 400 refuses.
 */
const ACCEPTED_ANSWERS = ['2xx', '401', '403', '404', '409', '422', '429'];

/**
 * Inputs whose validity no schema can state, and which api.md answers 400 when wrong: a page cursor
 * (opaque, from an earlier page) and a one-time code.
 */
const OPAQUE_QUERY = ['cursor', 'after'];
const OPAQUE_BODY = ['code'];

function takesOpaqueInput(document: OpenApiDocument, operation: Operation): boolean {
  if (operation.parameters?.some(({ name, in: where }) => where === 'query' && OPAQUE_QUERY.includes(name)))
    return true;
  let schema = operation.requestBody?.content?.['application/json']?.schema;
  const ref = schema?.$ref?.replace('#/components/schemas/', '');
  if (ref) schema = document.components?.schemas?.[ref];
  return OPAQUE_BODY.some((name) => schema?.properties?.[name] !== undefined);
}

const METHODS = ['get', 'put', 'post', 'patch', 'delete'];

/** Path parameters named after what they point at; `{id}` points at what its path starts with. */
const PATH_PARAMETERS: Record<string, TenantObject> = {
  orgId: 'orgs',
  teamId: 'teams',
  userId: 'users',
  approvalId: 'approvals',
  invitationId: 'invitations',
  messageId: 'messages',
  slug: 'slugs',
};

/** Query parameters and top-level body fields that hold an object's id. */
const REFERENCES: Record<string, TenantObject> = {
  orgId: 'orgs',
  teamId: 'teams',
  projectId: 'projects',
  taskId: 'tasks',
  parentId: 'tasks',
  sprintId: 'sprints',
  moveOpenTasksTo: 'sprints',
  userId: 'users',
  assigneeId: 'users',
  actorId: 'users',
};

/**
 * How often a parameter takes a real object instead of a generated value (only where the real
 * value fits the schema: schemathesis keeps dictionary entries to the cases of their validity).
 */
const PATH_PROBABILITY = 0.9;
const REFERENCE_PROBABILITY = 0.5;

/** They end the caller's session (logout revokes the access token whatever its body): a fresh user each. */
export const FRESH_USER_OPERATIONS = [
  'POST /api/v1/auth/logout',
  'POST /api/v1/auth/password/change',
  'DELETE /api/v1/users/me',
];

/** They destroy or give away objects: the victim, on its own objects. */
function destroys(label: string): boolean {
  return (
    (label.startsWith('DELETE ') || label.endsWith('/transfer-ownership')) &&
    !FRESH_USER_OPERATIONS.includes(label)
  );
}

function objectOfPathParameter(path: string, name: string): TenantObject | undefined {
  if (name !== 'id') return PATH_PARAMETERS[name];
  const resource = /^\/api\/v1\/([a-z]+)\/\{id\}/.exec(path)?.[1];
  const known: TenantObject[] = [
    'announcements',
    'channels',
    'comments',
    'notifications',
    'projects',
    'sprints',
    'tasks',
    'users',
  ];
  return known.find((object) => object === resource);
}

/** TOML basic strings accept JSON's escapes; every value written here is ASCII. */
const str = JSON.stringify;

function binding(tenant: 'user' | 'victim', object: TenantObject, probability: number): string {
  return `{ dictionary = ${str(`${tenant}-${object}`)}, probability = ${probability} }`;
}

function inlineTable(entries: [string, string][]): string {
  return `{ ${entries.map(([key, value]) => `${str(key)} = ${value}`).join(', ')} }`;
}

export interface TargetConfig {
  toml: string;
  /** What hooks.py reads (FUZZ_IDENTITIES). */
  identities: {
    gatewayUrl: string;
    userToken: string;
    victimToken: string;
    victimOperations: string[];
    freshUserOperations: string[];
  };
}

export function targetConfig(options: {
  document: OpenApiDocument;
  fixtures: Fixtures;
  gatewayUrl: string;
  hooksFile: string;
  /** The contract run: every check counts, and answers to schema-valid requests as above. */
  contract?: boolean;
}): TargetConfig {
  const { document, fixtures, contract = false } = options;
  const lines = [
    '# Written by infra/fuzz/fuzz.ts for one run: see infra/fuzz/README.md.',
    `hooks = ${str(options.hooksFile)}`,
    '',
    '[auth.openapi.bearer]',
    `bearer = ${str(fixtures.user.token)}`,
  ];

  for (const [tenantName, tenant] of [
    ['user', fixtures.user],
    ['victim', fixtures.victim],
  ] as const) {
    for (const [object, ids] of Object.entries(tenant.ids) as [TenantObject, Tenant['ids'][TenantObject]][]) {
      lines.push(
        '',
        `[dictionaries.${tenantName}-${object}]`,
        `values = [${ids.map((id) => str(id)).join(', ')}]`,
      );
    }
  }

  const references = (tenant: 'user' | 'victim'): [string, string][] =>
    Object.entries(REFERENCES).flatMap(([name, object]) => [
      [`query.${name}`, binding(tenant, object, REFERENCE_PROBABILITY)],
      [`body.${name}`, binding(tenant, object, REFERENCE_PROBABILITY)],
    ]);
  lines.push('', '[parameters]', ...references('user').map(([key, value]) => `${str(key)} = ${value}`));
  const statuses = (answers: string[]) => `[${answers.map((answer) => str(answer)).join(', ')}]`;
  if (contract)
    lines.push('', '[checks.positive_data_acceptance]', `expected-statuses = ${statuses(ACCEPTED_ANSWERS)}`);

  const victimOperations: string[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const label = `${method.toUpperCase()} ${path}`;
      const tenant = destroys(label) ? 'victim' : 'user';
      if (tenant === 'victim') victimOperations.push(label);
      const parameters: [string, string][] = (operation.parameters ?? []).flatMap(
        ({ name, in: location }) => {
          const object = location === 'path' ? objectOfPathParameter(path, name) : undefined;
          return object ? [[`path.${name}`, binding(tenant, object, PATH_PROBABILITY)]] : [];
        },
      );
      if (tenant === 'victim') parameters.push(...references('victim'));
      const opaque = contract && takesOpaqueInput(document, operation);
      if (parameters.length === 0 && !opaque) continue;
      lines.push('', '[[operations]]', `include-name = ${str(label)}`);
      if (parameters.length > 0) lines.push(`parameters = ${inlineTable(parameters)}`);
      if (opaque)
        lines.push(
          `checks = { positive_data_acceptance = { expected-statuses = ${statuses([...ACCEPTED_ANSWERS, '400'])} } }`,
        );
    }
  }

  return {
    toml: `${lines.join('\n')}\n`,
    identities: {
      gatewayUrl: options.gatewayUrl,
      userToken: fixtures.user.token,
      victimToken: fixtures.victim.token,
      victimOperations,
      freshUserOperations: FRESH_USER_OPERATIONS,
    },
  };
}
