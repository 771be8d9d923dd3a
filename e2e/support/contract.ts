import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// Contract conformance (issue 21): every answer the e2e suite gets through the gateway is checked
// against the merged OpenAPI document — the status is documented for the operation, the content
// type is the documented one (problem+json for errors), the body matches the schema (Ajv, JSON
// Schema 2020-12 as OpenAPI 3.1 uses it) and declared response headers that are always sent are
// there. Unknown paths (a 404 "no route") are not the document's business and are skipped.

type Json = Record<string, unknown>;
interface Operation {
  responses: Record<string, { content?: Record<string, { schema?: Json }>; headers?: Record<string, Json> }>;
}
interface Template {
  pattern: RegExp;
  literals: number;
  path: string;
  methods: Record<string, Operation>;
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;

export class ContractChecker {
  private readonly templates: Template[];
  private readonly ajv: Ajv2020;
  private readonly validators = new Map<string, ValidateFunction>();

  private constructor(document: Json) {
    this.ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: true });
    addFormats(this.ajv);
    this.ajv.addSchema({ $id: 'doc', components: (document.components ?? {}) as Json });
    const paths = (document.paths ?? {}) as Record<string, Record<string, Operation>>;
    this.templates = Object.entries(paths)
      .map(([path, methods]) => {
        const segments = path.split('/');
        const source = segments.map((s) =>
          /^\{.+\}$/.test(s) ? '[^/]+' : s.replace(/[.*+?^$()|[\]\\]/g, '\\$&'),
        );
        return {
          pattern: new RegExp(`^${source.join('/')}$`),
          literals: segments.filter((s) => !/^\{.+\}$/.test(s)).length,
          path,
          methods,
        };
      })
      .sort((a, b) => b.literals - a.literals);
  }

  static async load(gatewayUrl: string): Promise<ContractChecker> {
    const response = await fetch(`${gatewayUrl}/api/openapi.json`);
    return new ContractChecker((await response.json()) as Json);
  }

  /** What in an answer breaks the document (empty when it conforms). */
  check(method: string, url: string, status: number, headers: Headers, body: unknown): string[] {
    const path = new URL(url).pathname;
    const template = this.templates.find((t) => t.pattern.test(path));
    const operation = template?.methods[method.toLowerCase()];
    if (!template || !operation) return [];
    const where = `${method} ${template.path} → ${status}`;
    const response = operation.responses[String(status)] ?? operation.responses.default;
    if (!response)
      return [`${where}: status not documented (${Object.keys(operation.responses).join(', ')})`];
    const problems: string[] = [];
    const type = (headers.get('content-type') ?? '').split(';')[0]!.trim();
    const content = response.content;
    if (status === 204 || !content) {
      if (status === 204 && body !== undefined && body !== '') problems.push(`${where}: a 204 with a body`);
    } else if (!content[type]) {
      problems.push(
        `${where}: content type ${type || '(none)'}, documented ${Object.keys(content).join(', ')}`,
      );
    } else if (content[type]!.schema) {
      const validate = this.validator(`${where} ${type}`, content[type]!.schema!);
      if (!validate(body))
        problems.push(
          `${where}: body does not match the schema: ${this.ajv.errorsText(validate.errors, { dataVar: 'body' })}`,
        );
    }
    for (const [name, declared] of Object.entries(response.headers ?? {}))
      if (declared.required === true && !headers.has(name)) problems.push(`${where}: header ${name} missing`);
    return problems;
  }

  private validator(key: string, schema: Json): ValidateFunction {
    let validate = this.validators.get(key);
    if (!validate) {
      const rewritten = JSON.parse(
        JSON.stringify(schema).replaceAll('"#/components/', '"doc#/components/'),
      ) as Json;
      validate = this.ajv.compile(rewritten);
      this.validators.set(key, validate);
    }
    return validate;
  }
}
