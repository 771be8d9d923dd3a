// Examples for the OpenAPI documents, made from the JSON Schemas themselves so they always fit:
// realistic values by format and field name (a UUID, this century's dates, a task title…).

type Schema = Record<string, unknown>;

const BY_FORMAT: Record<string, unknown> = {
  uuid: '6f1c2a4e-8b1d-4c55-9d0e-2f3a4b5c6d7e',
  'date-time': '2026-12-06T09:30:00.000Z',
  date: '2026-12-18',
  email: 'ada@example.com',
  uri: 'https://hooks.example.com/trellis',
  url: 'https://hooks.example.com/trellis',
};

/** Strings by field name; the name's last word decides (`assigneeId` is an id, `orgName` a name). */
const BY_NAME: [RegExp, string][] = [
  [/password$/i, 'correct horse battery staple'],
  [/date$/i, '2026-12-18'],
  [/[a-z]At$/, '2026-12-06T09:30:00.000Z'],
  [/^events$/, 'task.*'],
  [/email$/i, 'ada@example.com'],
  [/url$/i, 'https://hooks.example.com/trellis'],
  [/(^|[a-z])name$/i, 'Ada Lovelace'],
  [/title$/i, 'Fix the login page on Safari'],
  [/^key$/i, 'CORE'],
  [/slug$/i, 'acme'],
  [/(body|description|detail|summary|goal|reason)$/i, 'Steps to reproduce are in the ticket.'],
  [/(token|secret)$/i, 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
  [/cursor$/i, 'eyJjcmVhdGVkQXQiOiIyMDI2LTEyLTA2In0'],
  [/code$/i, '482913'],
  [/type$/i, 'task.created'],
  [/label/i, 'frontend'],
];

function stringFor(schema: Schema, name: string): string {
  const format = typeof schema.format === 'string' ? BY_FORMAT[schema.format] : undefined;
  if (typeof format === 'string') return format;
  const byName = BY_NAME.find(([pattern]) => pattern.test(name))?.[1] ?? 'text';
  const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
  const max = typeof schema.maxLength === 'number' ? schema.maxLength : Infinity;
  const padded = byName.length >= min ? byName : byName.padEnd(min, 'x');
  return padded.slice(0, max);
}

/**
 * An example value of `schema` (`$ref`s resolved in `components`), or undefined when none can be
 * made. `name` is the property it is for.
 */
export function exampleOf(
  schema: unknown,
  components: Record<string, unknown>,
  name = '',
  depth = 0,
): unknown {
  if (!schema || typeof schema !== 'object' || depth > 8) return undefined;
  const s = schema as Schema;
  if (typeof s.$ref === 'string') {
    const target = components[s.$ref.replace('#/components/schemas/', '')];
    return exampleOf(target, components, name, depth + 1);
  }
  if (Array.isArray(s.examples) && s.examples.length > 0) return s.examples[0];
  if (s.example !== undefined) return s.example;
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  for (const key of ['anyOf', 'oneOf'] as const) {
    const options = s[key];
    if (Array.isArray(options)) {
      const usable = options.find((o) => (o as Schema).type !== 'null') ?? options[0];
      return exampleOf(usable, components, name, depth + 1);
    }
  }
  // Parts to merge (a composed object); a typed schema's `allOf` only adds rules (patterns).
  if (Array.isArray(s.allOf) && s.type === undefined)
    return Object.assign({}, ...s.allOf.map((part) => exampleOf(part, components, name, depth + 1) ?? {}));
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
  switch (type) {
    case 'object': {
      const properties = (s.properties ?? {}) as Record<string, unknown>;
      const entries = Object.entries(properties)
        .map(([key, value]) => [key, exampleOf(value, components, key, depth + 1)] as const)
        .filter(([, value]) => value !== undefined);
      return Object.fromEntries(entries);
    }
    case 'array': {
      const item = exampleOf(s.items, components, name, depth + 1);
      return item === undefined ? [] : [item];
    }
    case 'string':
      return stringFor(s, name);
    case 'integer':
    case 'number': {
      const min =
        typeof s.minimum === 'number'
          ? s.minimum
          : typeof s.exclusiveMinimum === 'number'
            ? s.exclusiveMinimum + 1
            : 1;
      return Math.max(min, Math.min(typeof s.maximum === 'number' ? s.maximum : 1, 1));
    }
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return undefined;
  }
}
