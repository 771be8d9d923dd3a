import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createTrellisClient, unwrap, type TrellisClient } from '../../clients/typescript/src/index.ts';
import { conformingFetch, type ApiClient } from './client.ts';
import { mailsTo } from './maildev.ts';
import { waitFor } from '@trellis/shared/testing';

export interface Person {
  id: string;
  email: string;
  name: string;
  token: string;
  /** Their session in @trellis/client, the SDK every journey signs up with (absent: built from `token`). */
  client?: TrellisClient;
}

/** The person's SDK session: their own, or one around their access token. */
export function clientOf(api: ApiClient, who: Person): TrellisClient {
  return (
    who.client ??
    createTrellisClient({
      baseUrl: api.baseUrl,
      tokens: { accessToken: who.token, refreshToken: '' },
      fetch: conformingFetch(api.baseUrl),
    })
  );
}

/** A registered, signed-in user, through the gateway and the SDK. */
export async function person(api: ApiClient, name: string): Promise<Person> {
  const email = `${name.toLowerCase().replace(/\W+/g, '-')}-${randomUUID().slice(0, 8)}@example.test`;
  const client = createTrellisClient({ baseUrl: api.baseUrl, fetch: conformingFetch(api.baseUrl) });
  const user = await client.register({ email, password: 'correct horse battery', name });
  return { id: user.id, email, name, token: client.tokens()!.accessToken, client };
}

/** The token of the newest invitation mail to an address (api.md §8: `token=<token>` in the link). */
export async function invitationToken(email: string, count = 1): Promise<string> {
  const mails = await waitFor(
    async () => {
      const found = (await mailsTo(email)).filter((m) => /token=/.test(m.text));
      return found.length >= count ? found : undefined;
    },
    { what: `invitation mail #${count} to ${email}` },
  );
  const token = /token=([A-Za-z0-9_-]+)/.exec(mails[count - 1]?.text ?? '')?.[1];
  assert.ok(token, 'the invitation mail carries token=');
  return token;
}

/** Invites someone and has them accept: the only way into an org through the API. */
export async function join(api: ApiClient, orgId: string, inviter: Person, invitee: Person, role: string) {
  const before = (await mailsTo(invitee.email)).filter((m) => /token=/.test(m.text)).length;
  const invited = await clientOf(api, inviter).api.POST('/api/v1/orgs/{orgId}/invitations', {
    params: { path: { orgId } },
    body: { email: invitee.email, role: role as 'MEMBER' },
  });
  assert.equal(invited.response.status, 201, JSON.stringify(invited.error ?? invited.data));
  const token = await invitationToken(invitee.email, before + 1);
  const accepted = await unwrap(
    clientOf(api, invitee).api.POST('/api/v1/invitations/accept', { body: { token } }),
  );
  assert.deepEqual(accepted, { orgId, role });
}

/** A new org of the owner's, named `<prefix> <random>`: its id. */
export async function newOrg(api: ApiClient, owner: Person, prefix: string): Promise<string> {
  const org = await api.post<{ id: string }>(
    '/orgs',
    { name: `${prefix} ${randomUUID().slice(0, 6)}` },
    owner.token,
  );
  assert.equal(org.status, 201, JSON.stringify(org.body));
  return org.body.id;
}
