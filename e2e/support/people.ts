import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { ApiClient } from './client.ts';
import { mailsTo } from './maildev.ts';
import { waitFor } from '@trellis/shared/testing';

export interface Person {
  id: string;
  email: string;
  name: string;
  token: string;
}

/** A registered, signed-in user, through the gateway. */
export async function person(api: ApiClient, name: string): Promise<Person> {
  const email = `${name.toLowerCase().replace(/\W+/g, '-')}-${randomUUID().slice(0, 8)}@example.test`;
  const res = await api.post<{ user: { id: string }; accessToken: string }>('/auth/register', {
    email,
    password: 'correct horse battery',
    name,
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return { id: res.body.user.id, email, name, token: res.body.accessToken };
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
  const invited = await api.post(`/orgs/${orgId}/invitations`, { email: invitee.email, role }, inviter.token);
  assert.equal(invited.status, 201, JSON.stringify(invited.body));
  const token = await invitationToken(invitee.email, before + 1);
  const accepted = await api.post('/invitations/accept', { token }, invitee.token);
  assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
  assert.deepEqual(accepted.body, { orgId, role });
}
