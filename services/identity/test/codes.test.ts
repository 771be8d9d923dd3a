import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { assertProblem, waitFor, type TopicReader } from '@trellis/shared/testing';
import {
  bearer,
  envelopes,
  readTopics,
  register,
  startIdentity,
  uniqueEmail,
  uniqueIp,
  waitForEvent,
  type Identity,
} from './helpers.ts';

let identity: Identity;
let reader: TopicReader;

before(async () => {
  identity = await startIdentity();
  reader = await readTopics(identity, ['identity.user', 'identity.session', 'identity.mail']);
});

after(async () => {
  await reader.stop();
  await identity.close();
});

const post = (path: string) => request(identity.app).post(`/api/v1${path}`);

/** The code of the newest `mail.requested` for this address and template, as notify would see it. */
async function mailedCode(to: string, template: string, after = 0): Promise<string> {
  const mails = () =>
    envelopes(reader, 'identity.mail').filter((e) => e.data.to === to && e.data.template === template);
  await waitFor(() => mails().length > after, { what: `${template} mail #${after + 1} to ${to}` });
  const event = mails().at(-1)!;
  const params = event.data.params as Record<string, string>;
  assert.match(params.code ?? '', /^\d{6}$/);
  assert.equal(params.name, 'Ada Lovelace');
  return params.code!;
}

const otherCode = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

describe('password reset', () => {
  test('forgot → code by mail → reset: new password works, every old session is dead and revoked', async () => {
    const session = await register(identity.app);
    const second = await post('/auth/login')
      .set('X-Forwarded-For', uniqueIp())
      .send({ email: session.email, password: 'correct horse battery' });
    assert.equal(
      (await post('/auth/password/forgot').send({ email: session.email.toUpperCase() })).status,
      202,
    );
    const code = await mailedCode(session.email, 'password-reset');

    const reset = await post('/auth/password/reset').send({
      email: session.email,
      code,
      newPassword: 'the new password',
    });
    assert.equal(reset.status, 204, JSON.stringify(reset.body));
    for (const token of [session.refreshToken, second.body.refreshToken]) {
      assertProblem(await post('/auth/refresh').send({ refreshToken: token }), 401, 'UNAUTHENTICATED');
    }
    const revocations = () =>
      envelopes(reader, 'identity.session').filter(
        (e) => e.data.userId === session.user.id && e.data.reason === 'password_reset',
      );
    await waitFor(() => revocations().length === 2, { what: 'two password_reset revocations' });
    for (const event of revocations()) {
      assert.equal(typeof event.data.jti, 'string');
      assert.ok(Date.parse(String(event.data.expiresAt)) > Date.now());
    }

    // The code is single-use.
    const again = await post('/auth/password/reset').send({
      email: session.email,
      code,
      newPassword: 'yet another one',
    });
    assertProblem(again, 400, 'VALIDATION_FAILED');
    const login = await post('/auth/login')
      .set('X-Forwarded-For', uniqueIp())
      .send({ email: session.email, password: 'the new password' });
    assert.equal(login.status, 200);
  });

  test('forgot answers 202 for an unknown e-mail too, and mails nothing', async () => {
    const email = uniqueEmail('ghost');
    assert.equal((await post('/auth/password/forgot').send({ email })).status, 202);
    const reset = await post('/auth/password/reset').send({
      email,
      code: '123456',
      newPassword: 'whatever-123',
    });
    assertProblem(reset, 400, 'VALIDATION_FAILED');
    assert.deepEqual(
      reset.body.errors.map((e: { path: string }) => e.path),
      ['body.code'],
    );
    assert.equal(
      envelopes(reader, 'identity.mail').some((e) => e.data.to === email),
      false,
    );
  });

  test('five wrong codes lock the code: the right one is refused afterwards', async () => {
    const session = await register(identity.app);
    await post('/auth/password/forgot').send({ email: session.email });
    const code = await mailedCode(session.email, 'password-reset');
    for (let i = 0; i < 5; i += 1) {
      const res = await post('/auth/password/reset').send({
        email: session.email,
        code: otherCode(code),
        newPassword: 'guessing-123',
      });
      assertProblem(res, 400, 'VALIDATION_FAILED');
      assert.deepEqual(
        res.body.errors.map((e: { path: string }) => e.path),
        ['body.code'],
      );
    }
    const locked = await post('/auth/password/reset').send({
      email: session.email,
      code,
      newPassword: 'finally-123',
    });
    assertProblem(locked, 400, 'VALIDATION_FAILED');
    assert.equal((await post('/auth/refresh').send({ refreshToken: session.refreshToken })).status, 200);

    // Asking again does not buy fresh guesses while the locked code lives: no new mail.
    assert.equal((await post('/auth/password/forgot').send({ email: session.email })).status, 202);
    await identity.harness.runtime.outbox.drain();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const mailed = envelopes(reader, 'identity.mail').filter((e) => e.data.to === session.email);
    assert.equal(mailed.length, 1, 'still only the first code mail');

    // Once it has expired, a new code replaces it.
    await identity.models.OneTimeCode.update(
      { expiresAt: new Date(Date.now() - 1000) },
      { where: { userId: session.user.id } },
    );
    await post('/auth/password/forgot').send({ email: session.email });
    const fresh = await mailedCode(session.email, 'password-reset', 1);
    const ok = await post('/auth/password/reset').send({
      email: session.email,
      code: fresh,
      newPassword: 'finally-123',
    });
    assert.equal(ok.status, 204);
  });

  test('asking twice within a minute mails one code, and that code still works', async () => {
    const session = await register(identity.app);
    await post('/auth/password/forgot').send({ email: session.email });
    const code = await mailedCode(session.email, 'password-reset');
    assert.equal((await post('/auth/password/forgot').send({ email: session.email })).status, 202);
    await identity.harness.runtime.outbox.drain();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(envelopes(reader, 'identity.mail').filter((e) => e.data.to === session.email).length, 1);
    const reset = await post('/auth/password/reset').send({
      email: session.email,
      code,
      newPassword: 'once-is-enough',
    });
    assert.equal(reset.status, 204);
  });

  test('an expired code is refused', async () => {
    const session = await register(identity.app);
    await post('/auth/password/forgot').send({ email: session.email });
    const code = await mailedCode(session.email, 'password-reset');
    await identity.models.OneTimeCode.update(
      { expiresAt: new Date(Date.now() - 1000) },
      { where: { userId: session.user.id } },
    );
    const res = await post('/auth/password/reset').send({
      email: session.email,
      code,
      newPassword: 'too-late-123',
    });
    assertProblem(res, 400, 'VALIDATION_FAILED');
  });
});

describe('e-mail verification', () => {
  test('request → code by mail → verify sets emailVerified and publishes user.emailVerified', async () => {
    const session = await register(identity.app);
    const auth = bearer(session.accessToken);
    assert.equal((await post('/auth/email/verify/request').set(auth)).status, 202);
    const code = await mailedCode(session.email, 'email-verification');

    assertProblem(
      await post('/auth/email/verify')
        .set(auth)
        .send({ code: otherCode(code) }),
      400,
      'VALIDATION_FAILED',
    );
    assert.equal((await post('/auth/email/verify').set(auth).send({ code })).status, 204);
    const me = await request(identity.app).get('/api/v1/users/me').set(auth);
    assert.equal(me.body.emailVerified, true);
    const event = await waitForEvent(
      reader,
      'identity.user',
      (e) => e.type === 'user.emailVerified' && e.subjectId === session.user.id,
    );
    assert.deepEqual(event.data, { userId: session.user.id, email: session.email });
  });

  test('verification routes need a token and a well-formed code', async () => {
    assertProblem(await post('/auth/email/verify/request'), 401, 'UNAUTHENTICATED');
    const session = await register(identity.app);
    const res = await post('/auth/email/verify').set(bearer(session.accessToken)).send({ code: 123456 });
    assertProblem(res, 400, 'VALIDATION_FAILED');
  });
});
