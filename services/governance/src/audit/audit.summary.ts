import type { EventEnvelope } from '@trellis/shared';

type Data = Record<string, unknown>;
const str = (value: unknown) => (value === undefined || value === null ? '?' : String(value));

/** Short human summaries for the types we know; anything else falls back to its type. */
const SUMMARIES: Record<string, (data: Data) => string> = {
  'org.created': (d) => `Organization "${str(d.name)}" created`,
  'org.updated': (d) => `Organization renamed to "${str(d.name)}"`,
  'org.deleted': () => 'Organization deleted',
  'org.restored': () => 'Organization restored',
  'org.ownershipTransferred': (d) => `Ownership transferred from ${str(d.fromUserId)} to ${str(d.toUserId)}`,
  'org.settingsChanged': () => 'Organization settings changed',
  'member.added': (d) => `${str(d.userId)} joined as ${str(d.role)}`,
  'member.roleChanged': (d) => `${str(d.userId)} changed from ${str(d.from)} to ${str(d.to)}`,
  'member.removed': (d) => `${str(d.userId)} removed (${str(d.reason)})`,
  'team.created': (d) => `Team "${str(d.name)}" created`,
  'team.deleted': () => 'Team deleted',
};

export function summarize(event: EventEnvelope): string {
  const describe = SUMMARIES[event.type];
  return describe ? describe(event.data) : event.type;
}
