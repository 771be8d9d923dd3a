import nodemailer from 'nodemailer';
import type { Config } from '../config.ts';
import type { RenderedMail } from './mail.templates.ts';

export type SmtpConfig = Pick<
  Config,
  'SMTP_HOST' | 'SMTP_PORT' | 'SMTP_SECURE' | 'SMTP_USER' | 'SMTP_PASSWORD' | 'SMTP_FROM'
>;

/**
 * Which SMTP pool a mail takes: `transactional` for what someone waits on (codes, password resets,
 * invitations), `notifications` for the mails notifications ask for. A burst of work can ask for
 * hundreds of the latter; in a pool of their own they never queue in front of the former.
 */
export type MailLane = 'transactional' | 'notifications';

/** SMTP errors may quote the recipient ("550 <ada@example.test>: unknown user"); keep its domain only. */
export const withoutLocalParts = (message: string) => message.replace(/[^\s<>"'@]+@/g, '…@');

/** Sends one rendered mail; the SMTP server's message id comes back. */
export interface Mailer {
  send: (mail: RenderedMail & { to: string }, lane?: MailLane) => Promise<{ messageId: string }>;
  close: () => void;
}

/**
 * Pooled SMTP transports, one per lane. Timeouts are far below nodemailer's defaults (minutes) so a hung
 * server fails the attempt and the consumer's retry/DLQ takes over instead of stalling a
 * partition. There is no readiness check: mail failures are retried, they must not take the
 * API down.
 */
export function createMailer(config: SmtpConfig): Mailer {
  const pool = () =>
    nodemailer.createTransport({
      pool: true,
      host: config.SMTP_HOST,
      port: config.SMTP_PORT,
      secure: config.SMTP_SECURE,
      auth: config.SMTP_USER ? { user: config.SMTP_USER, pass: config.SMTP_PASSWORD } : undefined,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 20_000,
    });
  const pools: Record<MailLane, ReturnType<typeof pool>> = { transactional: pool(), notifications: pool() };
  return {
    send: async (mail, lane = 'transactional') => {
      const info = await pools[lane].sendMail({
        from: config.SMTP_FROM,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
      });
      return { messageId: info.messageId };
    },
    close: () => Object.values(pools).forEach((transport) => transport.close()),
  };
}
