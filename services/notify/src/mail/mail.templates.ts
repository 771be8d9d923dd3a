/**
 * The mails notify can send. A template turns its params into structured content once; the text
 * and HTML bodies are both rendered from that, so they never drift apart and HTML escaping lives
 * in one place. Adding a mail (an invitation, a notification type) is one entry in `templates`.
 */

export type MailParams = Record<string, string>;

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

/** What a mail says, independent of its format. */
interface MailContent {
  subject: string;
  paragraphs: string[];
  /** A one-time code, shown prominently on a line of its own. */
  code?: string;
  /** A call to action; the URL appears verbatim in the text body too. */
  action?: { label: string; url: string };
  /** Small print after the main content (why you got this mail, what to do if unexpected). */
  footnote?: string;
}

interface MailTemplate {
  /** Params the template cannot do without; a request missing one is rejected before sending. */
  required: readonly string[];
  content: (params: MailParams) => MailContent;
}

const greeting = (params: MailParams) => (params.name ? `Hi ${params.name},` : 'Hi,');

const validity = (params: MailParams) =>
  params.validForMinutes ? ` It is valid for ${params.validForMinutes} minutes.` : '';

const templates: Record<string, MailTemplate> = {
  'password-reset': {
    required: ['code'],
    content: (p) => ({
      subject: 'Your Trellis password reset code',
      paragraphs: [greeting(p), `Use this code to reset your Trellis password.${validity(p)}`],
      code: p.code,
      footnote: 'If you did not ask for a reset, ignore this mail: your password stays as it is.',
    }),
  },
  'email-verification': {
    required: ['code'],
    content: (p) => ({
      subject: 'Verify your e-mail address for Trellis',
      paragraphs: [greeting(p), `Use this code to verify your e-mail address.${validity(p)}`],
      code: p.code,
      footnote: 'If you did not create a Trellis account, ignore this mail.',
    }),
  },
  invitation: {
    required: ['orgName', 'acceptUrl'],
    content: (p) => ({
      subject: `${p.inviterName || 'Someone'} invited you to ${p.orgName} on Trellis`,
      paragraphs: [
        'Hi,',
        `${p.inviterName || 'A member'} invited you to join ${p.orgName} on Trellis${p.role ? ` as ${p.role}` : ''}.`,
        'Sign in (or create an account) with this e-mail address, then accept the invitation.',
      ],
      action: { label: 'Accept the invitation', url: p.acceptUrl ?? '' },
      footnote: `${p.expiresAt ? `The invitation expires on ${p.expiresAt}. ` : ''}If you did not expect it, ignore this mail.`,
    }),
  },
  /** A notification the user switched on for e-mail (api.md §6 preferences). */
  notification: {
    required: ['title', 'url'],
    content: (p) => ({
      subject: p.title ?? '',
      paragraphs: [greeting(p), p.title ?? '', ...(p.body ? [p.body] : [])],
      action: { label: 'Open your notifications', url: p.url ?? '' },
      footnote: 'You get this mail because it is switched on in your notification preferences.',
    }),
  },
  welcome: {
    required: [],
    content: (p) => ({
      subject: 'Welcome to Trellis',
      paragraphs: [
        greeting(p),
        'Your Trellis account is ready. Create an organization or accept an invitation to start working with your team.',
      ],
    }),
  },
};

/** Thrown for a request notify cannot render; retrying will not help, so it ends on the DLQ. */
export class MailTemplateError extends Error {
  override name = 'MailTemplateError';
}

export function renderMail(template: string, params: MailParams): RenderedMail {
  const definition = Object.hasOwn(templates, template) ? templates[template] : undefined;
  if (!definition) throw new MailTemplateError(`Unknown mail template "${template}"`);
  const missing = definition.required.filter((name) => !params[name]);
  if (missing.length > 0) {
    throw new MailTemplateError(`Mail template "${template}" is missing params: ${missing.join(', ')}`);
  }
  const content = definition.content(params);
  return { subject: content.subject, text: renderText(content), html: renderHtml(content) };
}

function renderText(content: MailContent): string {
  const blocks = [...content.paragraphs];
  if (content.code) blocks.push(`Your code: ${content.code}`);
  if (content.action) blocks.push(`${content.action.label}: ${content.action.url}`);
  if (content.footnote) blocks.push(content.footnote);
  blocks.push('— Trellis');
  return `${blocks.join('\n\n')}\n`;
}

function renderHtml(content: MailContent): string {
  const blocks = content.paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`);
  if (content.code) {
    blocks.push(
      `<p style="font-size:28px;font-weight:bold;letter-spacing:6px;font-family:monospace">${escapeHtml(content.code)}</p>`,
    );
  }
  if (content.action) {
    blocks.push(`<p><a href="${escapeHtml(content.action.url)}">${escapeHtml(content.action.label)}</a></p>`);
  }
  if (content.footnote)
    blocks.push(`<p style="color:#666;font-size:12px">${escapeHtml(content.footnote)}</p>`);
  blocks.push('<p>— Trellis</p>');
  return [
    '<!doctype html>',
    `<html><head><meta charset="utf-8"><title>${escapeHtml(content.subject)}</title></head>`,
    `<body style="font-family:sans-serif">${blocks.join('')}</body></html>`,
  ].join('\n');
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char] ?? char);
}
