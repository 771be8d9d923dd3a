import { stack } from './stack.ts';

/** A message as MailDev's REST API shows it. */
export interface CaughtMail {
  id: string;
  subject: string;
  text: string;
  html: string;
  to: Array<{ address: string; name?: string }>;
}

/**
 * The messages MailDev caught for one address, in any letter case (api.md §8), oldest first. All are
 * fetched: MailDev's own filter matches the address exactly as it was written.
 */
export async function mailsTo(address: string): Promise<CaughtMail[]> {
  const response = await fetch(`${stack.maildevUrl}/email`);
  if (!response.ok) throw new Error(`MailDev answered ${response.status}`);
  const mails = (await response.json()) as CaughtMail[];
  return mails.filter((mail) => mail.to.some((to) => to.address.toLowerCase() === address.toLowerCase()));
}
