// The services' whole output, kept in files, and their error lines indexed by request id: a 5xx
// answer carries X-Request-Id (the gateway passes its id upstream), which names the line where the
// service logged the error behind it.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export interface LoggedError {
  service: string;
  level: number;
  msg: string;
  /** The error's type and message, and the first stack frame in our own code. */
  error: string;
  frame: string | undefined;
}

interface PinoLine {
  level?: number;
  service?: string;
  requestId?: string;
  msg?: string;
  err?: { type?: string; message?: string; stack?: string };
  /** Consumers log a failed event's cause as text, with its topic. */
  error?: string;
  topic?: string;
}

const WARN = 40;
const ERROR = 50;

/** Numbers and ids in a message differ per request; the cause does not. */
export function normalize(message: string): string {
  return message
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<uuid>')
    .replace(/"[^"]*"/g, '"…"')
    .replace(/\b\d{3,}\b/g, '<n>');
}

function ownFrame(stack: string | undefined): string | undefined {
  const frame = stack?.split('\n').find((line) => /\/(services|shared)\/(?!.*node_modules)/.test(line));
  return frame
    ?.trim()
    .replace(/^at /, '')
    .replace(/file:\/\/\S*?\/(services|shared)\//, '$1/');
}

export class ServiceLogs {
  private readonly byRequest = new Map<string, LoggedError[]>();
  /** Errors logged outside a request (event consumers, jobs), distinct, with a count. */
  readonly unattached = new Map<string, { entry: LoggedError; count: number }>();
  private readonly partial = new Map<string, string>();
  private readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
  }

  file(service: string): string {
    return join(this.dir, `${service}.log`);
  }

  /** A chunk of a service's output (stdout and stderr alike). */
  append = (service: string, chunk: string): void => {
    appendFileSync(this.file(service), chunk);
    const lines = ((this.partial.get(service) ?? '') + chunk).split('\n');
    this.partial.set(service, lines.pop() ?? '');
    for (const line of lines) this.index(service, line);
  };

  private index(service: string, line: string): void {
    if (!line.startsWith('{')) return;
    let parsed: PinoLine;
    try {
      parsed = JSON.parse(line) as PinoLine;
    } catch {
      return;
    }
    const level = parsed.level ?? 0;
    if (level < WARN) return;
    const entry: LoggedError = {
      service: parsed.service ?? service,
      level,
      msg: parsed.msg ?? '',
      error: parsed.err
        ? `${parsed.err.type ?? 'Error'}: ${parsed.err.message ?? ''}`
        : [parsed.topic && `topic ${parsed.topic}`, parsed.error].filter(Boolean).join(': '),
      frame: ownFrame(parsed.err?.stack),
    };
    if (parsed.requestId) {
      this.byRequest.set(parsed.requestId, [...(this.byRequest.get(parsed.requestId) ?? []), entry]);
    } else if (level >= ERROR) {
      const key = `${entry.service} ${entry.msg} ${normalize(entry.error)}`;
      const seen = this.unattached.get(key);
      if (seen) seen.count += 1;
      else this.unattached.set(key, { entry, count: 1 });
    }
  }

  /** What the services logged while answering a request, errors first. */
  forRequest(requestId: string | undefined): LoggedError[] {
    const entries = requestId ? (this.byRequest.get(requestId) ?? []) : [];
    return [...entries].sort((a, b) => b.level - a.level);
  }
}
