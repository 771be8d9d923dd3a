// The whole e2e run's secret watch (issue 24): with E2E_LOG_DIR set (`npm test` sets it), every
// suite's service output is kept in files there, and every secret the run's clients send or
// receive is noted beside them. After the run, `infra/local/test.ts` greps every log for every
// secret (`findLeaks`): no password, token, one-time code or webhook secret may reach a log line.
import {
  appendFileSync,
  createWriteStream,
  mkdirSync,
  readdirSync,
  readFileSync,
  type WriteStream,
} from 'node:fs';
import { join } from 'node:path';

const dir = process.env.E2E_LOG_DIR;
const SECRETS_FILE = 'secrets.jsonl';

/** Request fields that carry a secret the client knows (passwords, codes, tokens it hands back). */
const SENT = new Set(['password', 'currentPassword', 'newPassword', 'code', 'token', 'refreshToken']);
/** Answer fields that carry one (sessions, a webhook's signing secret). */
const RECEIVED = new Set(['accessToken', 'refreshToken', 'secret']);
/** Shorter values (`"code": "ab"` in a hostile-input test) are not secrets worth a search. */
const MIN_LENGTH = 6;

interface Secret {
  kind: string;
  value: string;
}

function collect(value: unknown, fields: ReadonlySet<string>, found: Secret[], depth = 0): void {
  if (depth > 6 || value === null || typeof value !== 'object') return;
  for (const [key, inner] of Object.entries(value)) {
    if (fields.has(key) && typeof inner === 'string' && inner.length >= MIN_LENGTH)
      found.push({ kind: key, value: inner });
    else collect(inner, fields, found, depth + 1);
  }
}

/** The watch's folder, made on first use. */
let made = false;
function watchDir(path: string): string {
  if (!made) mkdirSync(path, { recursive: true });
  made = true;
  return path;
}

function note(body: unknown, fields: ReadonlySet<string>): void {
  if (!dir) return;
  const found: Secret[] = [];
  collect(body, fields, found);
  if (found.length === 0) return;
  appendFileSync(join(watchDir(dir), SECRETS_FILE), found.map((s) => `${JSON.stringify(s)}\n`).join(''));
}

/** Notes the secrets of a request body (JSON text or a value) the e2e clients send. */
export function noteSent(body: unknown): void {
  if (!dir || body === undefined) return;
  if (typeof body !== 'string') return note(body, SENT);
  try {
    note(JSON.parse(body) as unknown, SENT);
  } catch {
    // not JSON: a hostile-input test's raw body
  }
}

/** Notes the secrets of an answer's (parsed) body. */
export const noteReceived = (body: unknown): void => note(body, RECEIVED);

/** Where a suite's service writes its output for the watch; undefined when the watch is off. */
export function serviceLog(suite: string, service: string): WriteStream | undefined {
  if (!dir) return undefined;
  return createWriteStream(join(watchDir(dir), `${suite}-${service}.log`), { flags: 'a' });
}

export interface WatchReport {
  secrets: number;
  files: number;
  bytes: number;
  /** Kind of secret and file, never the value. */
  leaks: Array<{ kind: string; file: string }>;
}

/** The words of a log: split where no secret of ours has a character (`=` only splits off a name). */
function wordsOf(text: string): Set<string> {
  const words = new Set<string>();
  for (const part of text.split(/[\s"'`,;{}()[\]<>&?\\]+/)) {
    words.add(part);
    const eq = part.indexOf('=');
    if (eq > 0) words.add(part.slice(eq + 1));
  }
  return words;
}

/**
 * Every noted secret searched in every log of the run, by whole word (a set lookup, so thousands of
 * secrets over megabytes of logs take a moment); a secret with a space in it (a pass phrase) by
 * substring. All-digit ones (one-time codes) match only as a whole word, never inside an offset.
 */
export function findLeaks(logDir: string): WatchReport {
  let secrets: Secret[] = [];
  try {
    secrets = readFileSync(join(logDir, SECRETS_FILE), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Secret);
  } catch {
    // no secret noted: nothing to find
  }
  const unique = new Map(secrets.map((s) => [s.value, s.kind]));
  const files = readdirSync(logDir).filter((name) => name.endsWith('.log'));
  const leaks: WatchReport['leaks'] = [];
  let bytes = 0;
  for (const file of files) {
    const text = readFileSync(join(logDir, file), 'utf8');
    bytes += text.length;
    const words = wordsOf(text);
    for (const [value, kind] of unique) {
      if (/\s/.test(value) ? text.includes(value) : words.has(value)) leaks.push({ kind, file });
    }
  }
  return { secrets: unique.size, files: files.length, bytes, leaks };
}
