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
  'invitation.created': (d) => `${str(d.email)} invited as ${str(d.role)}`,
  'invitation.accepted': (d) => `Invitation for ${str(d.email)} accepted`,
  'invitation.declined': (d) => `Invitation for ${str(d.email)} declined`,
  'invitation.revoked': (d) => `Invitation for ${str(d.email)} revoked`,
  'invitation.resent': (d) => `Invitation for ${str(d.email)} sent again`,
  'invitation.expired': (d) => `Invitation for ${str(d.email)} expired`,
  'approval.requested': (d) => `Approval requested for ${str(d.kind)}`,
  'approval.decided': (d) => `Approval for ${str(d.kind)}: ${str(d.decision)}`,
  'approval.cancelled': (d) => `Approval for ${str(d.kind)} cancelled`,
  'webhook.created': (d) => `Webhook to ${str(d.url)} created`,
  'webhook.updated': (d) => `Webhook to ${str(d.url)} changed`,
  'webhook.deleted': () => 'Webhook deleted',
  'webhook.secretRotated': () => 'Webhook signing secret rotated',
  'webhook.disabled': (d) => `Webhook to ${str(d.url)} disabled (${str(d.reason)})`,
};

export function summarize(event: EventEnvelope): string {
  const describe = SUMMARIES[event.type];
  return describe ? describe(event.data) : event.type;
}
