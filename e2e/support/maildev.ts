import { mailsTo, waitFor } from '@trellis/shared/testing';

export { mailsTo, type CaughtMail } from '@trellis/shared/testing';

/** Waits for the `count`-th mail to an address and returns its 6-digit code. */
export async function codeFromMail(address: string, count = 1): Promise<string> {
  const mails = await waitFor(
    async () => {
      const found = await mailsTo(address);
      return found.length >= count ? found : undefined;
    },
    { what: `mail #${count} to ${address}` },
  );
  const code = /\b(\d{6})\b/.exec(mails[count - 1]?.text ?? '')?.[1];
  if (!code) throw new Error(`no 6-digit code in the mail to ${address}`);
  return code;
}
