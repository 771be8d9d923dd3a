import assert from 'node:assert/strict';
import { randomInt, randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createEvent, governanceEvents, identityEvents, type EventEnvelope } from '@trellis/shared';
import { mailsTo, stack, TopicReader, waitFor, type CaughtMail } from '@trellis/shared/testing';
import { readConfig } from '../src/config.ts';
import { mailDeliveryModel, type MailDeliveryModel } from '../src/mail/delivery.model.ts';
import { MailService, type MailRequest } from '../src/mail/mail.service.ts';
import { MailTemplateError, renderMail } from '../src/mail/mail.templates.ts';
import { createMailer, type Mailer, type SmtpConfig } from '../src/mail/mailer.ts';
import { startNotify, type Notify } from './helpers.ts';

const smtp: SmtpConfig = {
  SMTP_HOST: stack.smtpHost,
  SMTP_PORT: stack.smtpPort,
  SMTP_SECURE: false,
  SMTP_FROM: 'Trellis <no-reply@trellis.local>',
};

const uniqueAddress = () => `u-${randomUUID().slice(0, 12)}@example.test`;
const sixDigits = () => String(randomInt(0, 1_000_000)).padStart(6, '0');

/** Waits until MailDev holds at least one mail to the address. */
function waitForMailsTo(address: string): Promise<CaughtMail[]> {
  return waitFor(
    async () => {
      const mails = await mailsTo(address);
      return mails.length > 0 ? mails : undefined;
    },
    { what: `a mail to ${address}` },
  );
}

function mailEvent(data: MailRequest): EventEnvelope<MailRequest> {
  return createEvent(identityEvents.mailRequested, 'identity', { subjectId: randomUUID(), data });
}

describe('mail templates', () => {
  test('code mails carry the 6-digit code in the text and escape params in the HTML', () => {
    for (const template of ['password-reset', 'email-verification'] as const) {
      const mail = renderMail(template, { code: '042917', name: 'Ada <b>&</b>' });
      assert.match(mail.text, /^Your code: 042917$/m);
      assert.match(mail.text, /Hi Ada <b>&<\/b>,/);
      assert.match(mail.html, /042917/);
      assert.match(mail.html, /Hi Ada &lt;b&gt;&amp;&lt;\/b&gt;,/);
      assert.doesNotMatch(mail.html, /<b>/);
    }
    assert.match(renderMail('welcome', {}).subject, /Welcome/);
  });

  test('an unknown template or a missing param is a clear error', () => {
    assert.throws(() => renderMail('newsletter', {}), MailTemplateError);
    assert.throws(() => renderMail('toString', {}), /Unknown mail template "toString"/);
    assert.throws(() => renderMail('password-reset', { name: 'Ada' }), /missing params: code/);
  });
});

test('SMTP settings: defaults, a boolean SMTP_SECURE, credentials only in pairs', () => {
  const base = {
    KAFKA_BROKERS: '127.0.0.1:9092',
    MONGO_URL: 'mongodb://127.0.0.1:27017/notify',
    IDENTITY_URL: 'http://127.0.0.1:8081',
    GOVERNANCE_URL: 'http://127.0.0.1:8082',
    WORK_URL: 'http://127.0.0.1:8083',
    COLLAB_URL: 'http://127.0.0.1:8084',
  };
  const defaults = readConfig(base);
  assert.equal(defaults.SMTP_FROM, 'Trellis <no-reply@trellis.local>');
  assert.equal(defaults.SMTP_SECURE, false);
  assert.equal(readConfig({ ...base, SMTP_SECURE: 'false' }).SMTP_SECURE, false);
  assert.equal(readConfig({ ...base, SMTP_SECURE: 'true' }).SMTP_SECURE, true);
  assert.throws(() => readConfig({ ...base, SMTP_USER: 'mailer' }), /SMTP_PASSWORD/);
});

describe('mail delivery', () => {
  let notify: Notify;
  let harness: Notify['harness'];
  let deliveries: MailDeliveryModel;
  let mailer: Mailer;

  before(async () => {
    notify = await startNotify();
    harness = notify.harness;
    deliveries = await mailDeliveryModel(harness.runtime.connection);
    mailer = createMailer(smtp);
  });

  after(async () => {
    await notify.close();
    mailer.close();
  });

  test('an invitation.mailRequested event becomes a mail whose accept link carries token=', async () => {
    const to = uniqueAddress();
    const token = randomUUID().replaceAll('-', '') + randomUUID().replaceAll('-', '');
    const event = createEvent(governanceEvents.invitationMailRequested, 'governance', {
      subjectId: randomUUID(),
      orgId: randomUUID(),
      data: {
        invitationId: randomUUID(),
        to,
        token,
        orgName: 'Acme <Rockets>',
        inviterName: 'Olive',
        role: 'MEMBER',
        expiresAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
      },
    });
    await harness.runtime.bus.publish([{ topic: 'governance.mail', event }]);
    const [mail] = await waitForMailsTo(to);
    assert.equal(mail?.subject, 'Olive invited you to Acme <Rockets> on Trellis');
    assert.ok(mail?.text.includes(`https://app.trellis.test/invitations/accept?token=${token}`));
    assert.match(mail?.html ?? '', /Acme &lt;Rockets&gt;/);
    const delivery = await waitFor(() => deliveries.findOne({ eventId: event.id, status: 'sent' }).lean());
    assert.equal(delivery.template, 'invitation');
    assert.doesNotMatch(JSON.stringify(delivery), new RegExp(token), 'the token is not stored');
  });

  test('a mail.requested event is sent once through SMTP, even when redelivered', async () => {
    const to = uniqueAddress();
    const code = sixDigits();
    const userId = randomUUID();
    const event = createEvent(identityEvents.mailRequested, 'identity', {
      subjectId: userId,
      data: { template: 'password-reset', to, params: { code, name: 'Ada' } },
    });
    await harness.runtime.bus.publish([{ topic: 'identity.mail', event }]);

    const [mail, ...more] = await waitForMailsTo(to);
    assert.equal(more.length, 0);
    assert.ok(mail);
    assert.equal(mail.subject, 'Your Trellis password reset code');
    assert.equal(/\b(\d{6})\b/.exec(mail.text)?.[1], code);
    assert.match(mail.html, new RegExp(code));

    const delivery = await waitFor(() => deliveries.findOne({ eventId: event.id, status: 'sent' }).lean());
    assert.equal(delivery.template, 'password-reset');
    assert.equal(delivery.to, to);
    assert.equal(delivery.attempts, 1);
    assert.equal(delivery.lastError, null);
    assert.ok(delivery.messageId);
    assert.ok(delivery.sentAt instanceof Date);
    assert.doesNotMatch(JSON.stringify(delivery), new RegExp(code), 'the code is never stored');

    // The same envelope again, then a marker on the same key (same partition, so handled after it).
    const markerTo = uniqueAddress();
    const marker = createEvent(identityEvents.mailRequested, 'identity', {
      subjectId: userId,
      data: { template: 'welcome', to: markerTo, params: {} },
    });
    await harness.runtime.bus.publish([
      { topic: 'identity.mail', event },
      { topic: 'identity.mail', event: marker },
    ]);
    await waitForMailsTo(markerTo);
    assert.equal((await mailsTo(to)).length, 1, 'the redelivered event sent no second mail');
    assert.equal(await deliveries.countDocuments({ eventId: event.id }), 1);
    assert.equal((await deliveries.findOne({ eventId: event.id }).lean())?.attempts, 1);
  });

  test('an SMTP failure is recorded and thrown; a later attempt sends and marks it sent', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    const brokenMailer = createMailer({ ...smtp, SMTP_PORT: closedPort });
    const broken = new MailService({ deliveries, mailer: brokenMailer, logger: harness.logger });
    const to = uniqueAddress();
    const event = mailEvent({ template: 'email-verification', to, params: { code: sixDigits() } });
    try {
      await assert.rejects(broken.deliver(event), /SMTP delivery of email-verification mail/);
      await assert.rejects(broken.deliver(event), /ECONNREFUSED/);
    } finally {
      brokenMailer.close();
    }
    const failed = await deliveries.findOne({ eventId: event.id }).lean();
    assert.equal(failed?.status, 'failed');
    assert.equal(failed?.attempts, 2);
    assert.match(failed?.lastError ?? '', /ECONNREFUSED/);
    assert.equal((await mailsTo(to)).length, 0);

    // The consumer's next retry (or a redelivery) goes through once SMTP is back.
    await new MailService({ deliveries, mailer, logger: harness.logger }).deliver(event);
    const sent = await deliveries.findOne({ eventId: event.id }).lean();
    assert.equal(sent?.status, 'sent');
    assert.equal(sent?.attempts, 3);
    assert.equal(sent?.lastError, null);
    assert.equal((await waitForMailsTo(to)).length, 1);
  });

  test('a delivery left "sending" by a crash is sent by the redelivered event', async () => {
    const to = uniqueAddress();
    const event = mailEvent({ template: 'welcome', to, params: { name: 'Grace' } });
    await deliveries.create({
      _id: event.id,
      eventId: event.id,
      template: 'welcome',
      to,
      status: 'sending',
      attempts: 0,
      createdAt: new Date(),
    });
    await new MailService({ deliveries, mailer, logger: harness.logger }).deliver(event);
    assert.equal((await deliveries.findOne({ eventId: event.id }).lean())?.status, 'sent');
    assert.equal((await waitForMailsTo(to)).length, 1);
  });

  test('a delivery recorded before _id was the event id is found by its event id: sent, it is not sent again', async () => {
    const to = uniqueAddress();
    const event = mailEvent({ template: 'welcome', to, params: { name: 'Grace' } });
    // The earlier shape: an id of its own, and the unique index on `eventId` databases then had.
    await deliveries.collection.createIndex({ eventId: 1 }, { unique: true });
    await deliveries.collection.insertOne({
      eventId: event.id,
      template: 'welcome',
      to,
      status: 'sent',
      attempts: 1,
      lastError: null,
      messageId: 'earlier@trellis.local',
      createdAt: new Date(),
      sentAt: new Date(),
    });
    await new MailService({ deliveries, mailer, logger: harness.logger }).deliver(event);
    assert.equal(await deliveries.countDocuments({ eventId: event.id }), 1);
    assert.deepEqual(await mailsTo(to), [], 'nothing sent: the delivery was awaited');
  });

  test('a request naming an unknown template is refused by the schema and parked on the DLQ', async () => {
    const reader = await TopicReader.start(
      {
        brokers: stack.kafkaBrokers,
        topicPrefix: harness.runtime.bus.prefix,
        partitions: harness.runtime.bus.partitions,
        groupId: (name) => `${name}-${randomUUID()}`,
      },
      ['identity.mail.dlq'],
    );
    try {
      const valid = mailEvent({ template: 'welcome', to: uniqueAddress(), params: {} });
      const event = { ...valid, data: { ...valid.data, template: 'newsletter' } };
      await harness.runtime.bus.publish([{ topic: 'identity.mail', event }]);
      const parked = await waitFor(
        () => reader.on('identity.mail.dlq').find((m) => m.headers['event-id'] === event.id),
        { what: 'the event on the DLQ' },
      );
      assert.equal(parked.headers['dlq-reason'], 'invalid-data');
      assert.equal(await deliveries.countDocuments({ eventId: event.id }), 0);
    } finally {
      await reader.stop();
    }
  });

  test('the handler refuses a template it cannot render without leaving a record', async () => {
    const valid = mailEvent({ template: 'welcome', to: uniqueAddress(), params: {} });
    const event = {
      ...valid,
      data: { ...valid.data, template: 'newsletter' },
    } as unknown as EventEnvelope<MailRequest>;
    const mail = new MailService({ deliveries, mailer, logger: harness.logger });
    await assert.rejects(mail.deliver(event), /Unknown mail template "newsletter"/);
    assert.equal(await deliveries.countDocuments({ eventId: event.id }), 0);
  });
});
