import { createHash } from 'node:crypto';

/** The prevHash of an org's first entry. */
export const GENESIS_HASH = '0'.repeat(64);

/** The fields an entry's hash covers: everything but the hashes and the recording time. */
export interface ChainedFields {
  orgId: string;
  seq: number;
  id: string;
  occurredAt: string;
  actorId: string | null;
  type: string;
  subjectId: string;
  summary: string;
  data: unknown;
}

/** JSON with object keys sorted at every depth, so the same content always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** sha256(prevHash ‖ canonical entry): changing any covered field, or the order, breaks the chain. */
export function entryHash(prevHash: string, fields: ChainedFields): string {
  return createHash('sha256').update(prevHash).update('\n').update(canonicalJson(fields)).digest('hex');
}

const SECRET_KEYS =
  /^(password|currentPassword|newPassword|token|tokenHash|accessToken|refreshToken|secret|code|codeHash)$/i;

/** Event data as the log keeps it: secrets (tokens, codes, passwords) never enter an entry. */
export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [
        k,
        SECRET_KEYS.test(k) ? '[redacted]' : redact(v),
      ]),
    );
  }
  return value;
}
