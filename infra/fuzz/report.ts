// Reads a schemathesis NDJSON report: the requests it sent, what came back and which checks failed,
// grouped into distinct failures, each with one curl that reproduces it.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

interface Interaction {
  request: {
    method: string;
    uri: string;
    headers: Record<string, string[]>;
    body?: { $base64: string } | null;
  };
  response?: { status_code: number; headers: Record<string, string[]>; content?: { $base64: string } } | null;
}

interface CheckResult {
  name: string;
  status: 'success' | 'failure' | 'error' | 'skip';
  failure_info?: { failure: { code: string; title: string; message: string; operation: string } };
}

interface Scenario {
  phase: string;
  recorder: {
    label: string;
    cases?: Record<string, { value: { method: string; path: string } }>;
    interactions?: Record<string, Interaction>;
    checks?: Record<string, CheckResult[]>;
  };
}

/** One request that went wrong, as sent. */
export interface Example {
  operation: string;
  status: number | undefined;
  requestId: string | undefined;
  curl: string;
  /** The response body, shortened. */
  response: string;
}

/** Failures of one kind: same check (or 5xx), same operation, same status. */
export interface Finding {
  code: string;
  title: string;
  operation: string;
  status: number | undefined;
  count: number;
  message: string;
  example: Example;
}

export interface TargetReport {
  /** Requests whose answer was a 5xx, each one (they are grouped by their logged cause later). */
  serverErrors: Example[];
  /** Other check failures, distinct. */
  findings: Finding[];
  /** Schemathesis's own errors (not the server's), distinct by message. */
  toolErrors: Map<string, number>;
}

/** Headers every request carries; left out of the curl. */
const NOISE_HEADERS = new Set([
  'user-agent',
  'accept-encoding',
  'accept',
  'connection',
  'content-length',
  'x-schemathesis-testcaseid',
]);

/** A shell word for any bytes: plain quotes when printable, else `$'…'` with escapes. */
export function shellQuote(bytes: Buffer): string {
  const printable = [...bytes].every((byte) => byte >= 0x20 && byte < 0x7f);
  if (printable) return `'${bytes.toString('latin1').replaceAll("'", `'\\''`)}'`;
  const escaped = [...bytes]
    .map((byte) => {
      if (byte === 0x27) return "\\'";
      if (byte === 0x5c) return '\\\\';
      return byte >= 0x20 && byte < 0x7f
        ? String.fromCharCode(byte)
        : `\\x${byte.toString(16).padStart(2, '0')}`;
    })
    .join('');
  return `$'${escaped}'`;
}

function curlOf(request: Interaction['request'], tokens: Map<string, string>): string {
  const parts = ['curl', '-X', request.method, shellQuote(Buffer.from(request.uri, 'latin1'))];
  for (const [name, values] of Object.entries(request.headers)) {
    if (NOISE_HEADERS.has(name.toLowerCase())) continue;
    for (const value of values) {
      const token = /^Bearer (.+)$/.exec(value)?.[1];
      const placeholder = token === undefined ? undefined : tokens.get(token);
      // A token is long and dies with the run: the variable says whose it was.
      parts.push(
        placeholder
          ? `-H "${name}: Bearer $${placeholder}"`
          : `-H ${shellQuote(Buffer.from(`${name}: ${value}`, 'latin1'))}`,
      );
    }
  }
  if (request.body) parts.push('--data-binary', shellQuote(Buffer.from(request.body.$base64, 'base64')));
  return parts.join(' ');
}

function responseText(interaction: Interaction): string {
  const content = interaction.response?.content?.$base64;
  const text = content ? Buffer.from(content, 'base64').toString('utf8') : '';
  return text.length > 400 ? `${text.slice(0, 400)}…` : text;
}

/** `tokens`: access token → the shell variable the curl names instead. */
export async function readReport(ndjsonPath: string, tokens: Map<string, string>): Promise<TargetReport> {
  const serverErrors: Example[] = [];
  const findings = new Map<string, Finding>();
  const toolErrors = new Map<string, number>();
  const lines = createInterface({ input: createReadStream(ndjsonPath), crlfDelay: Infinity });
  for await (const line of lines) {
    const event = JSON.parse(line) as Record<string, unknown>;
    const error = event.NonFatalError as
      { label: string; value: { type: string; message: string } } | undefined;
    if (error) {
      const key = `${error.label}: ${error.value.type}: ${error.value.message.split('\n')[0]}`;
      toolErrors.set(key, (toolErrors.get(key) ?? 0) + 1);
    }
    const scenario = event.ScenarioFinished as Scenario | undefined;
    if (!scenario) continue;
    const { cases = {}, interactions = {}, checks = {} } = scenario.recorder;
    for (const [caseId, interaction] of Object.entries(interactions)) {
      const value = cases[caseId]?.value;
      const example: Example = {
        operation: value ? `${value.method} ${value.path}` : scenario.recorder.label,
        status: interaction.response?.status_code,
        requestId: interaction.response?.headers['x-request-id']?.[0],
        curl: curlOf(interaction.request, tokens),
        response: responseText(interaction),
      };
      if (example.status !== undefined && example.status >= 500) serverErrors.push(example);
      for (const check of checks[caseId] ?? []) {
        const failure = check.failure_info?.failure;
        if (check.status === 'error') {
          const key = `${example.operation}: the ${check.name} check failed to run`;
          toolErrors.set(key, (toolErrors.get(key) ?? 0) + 1);
        }
        // 5xx are reported from the responses above, with the server's logged cause.
        if (check.status !== 'failure' || !failure || check.name === 'not_a_server_error') continue;
        const key = `${failure.code} ${failure.operation} ${example.status}`;
        const seen = findings.get(key);
        if (seen) seen.count += 1;
        else
          findings.set(key, {
            code: failure.code,
            title: failure.title,
            operation: failure.operation,
            status: example.status,
            count: 1,
            message: failure.message,
            example,
          });
      }
    }
  }
  return { serverErrors, findings: [...findings.values()], toolErrors };
}
