import nodemailer from 'nodemailer';
import type { Config } from '../config.ts';
import type { RenderedMail } from './mail.templates.ts';

export type SmtpConfig = Pick<
  Config,
  'SMTP_HOST' | 'SMTP_PORT' | 'SMTP_SECURE' | 'SMTP_USER' | 'SMTP_PASSWORD' | 'SMTP_FROM'
>;

/** Sends one rendered mail; the SMTP server's message id comes back. */
export interface Mailer {
  send: (mail: RenderedMail & { to: string }) => Promise<{ messageId: string }>;
  close: () => void;
}

/**
 * A pooled SMTP transport. Timeouts are far below nodemailer's defaults (minutes) so a hung
 * server fails the attempt and the consumer's retry/DLQ takes over instead of stalling a
 * partition. There is no readiness check: mail failures are retried, they must not take the
 * API down.
 */
export function createMailer(config: SmtpConfig): Mailer {
  const transport = nodemailer.createTransport({
    pool: true,
    host: config.SMTP_HOST,
    port: config.SMTP_PORT,
    secure: config.SMTP_SECURE,
    auth: config.SMTP_USER ? { user: config.SMTP_USER, pass: config.SMTP_PASSWORD } : undefined,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
  });
  return {
    send: async (mail) => {
      const info = await transport.sendMail({
        from: config.SMTP_FROM,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
      });
      return { messageId: info.messageId };
    },
    close: () => transport.close(),
  };
}
