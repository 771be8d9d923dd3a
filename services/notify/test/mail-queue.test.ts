import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createEvent, identityEvents, type EventEnvelope, type MongoRuntime } from '@trellis/shared';
import { mailsTo, mongoHarness, stack, waitFor, type Harness } from '@trellis/shared/testing';
import {
  mailClaimModel,
  mailDeliveryModel,
  type MailClaimModel,
  type MailDelivery,
  type MailDeliveryModel,
} from '../src/mail/delivery.model.ts';
import { MailQueue, type MailQueueSettings } from '../src/mail/mail.queue.ts';
import type { MailRequest } from '../src/mail/mail.service.ts';
import { createMailer, type Mailer, type SmtpConfig } from '../src/mail/mailer.ts';

const smtp: SmtpConfig = {
  SMTP_HOST: stack.smtpHost,
  SMTP_PORT: stack.smtpPort,
  SMTP_SECURE: false,
  SMTP_FROM: 'Trellis <no-reply@trellis.local>',
};

/** A port nothing listens on: SMTP to it is refused at once. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** The envelope the notifier hands the queue: a notification's event, with the mail as its data. */
function notificationMail(to: string): EventEnvelope<MailRequest> {
  const event = createEvent(identityEvents.mailRequested, 'notify', {
    subjectId: randomUUID(),
    data: { template: 'welcome', to, params: {} },
  });
  const params = {
    name: 'Ada',
    title: 'Olive assigned you CORE-7',
    body: 'Fix the login',
    url: 'https://x/n',
  };
  return { ...event, data: { template: 'notification', to, params } };
}

const uniqueAddress = () => `q-${randomUUID().slice(0, 12)}@example.test`;

describe('notification mail queue', () => {
  let harness: Harness<MongoRuntime>;
  let deliveries: MailDeliveryModel;
  let claims: MailClaimModel;
  let mailer: Mailer;
  let brokenMailer: Mailer;
  const queues: MailQueue[] = [];
  /** Short schedules; the sweep is called by hand where a test needs it at a given moment. */
  const queue = (settings: Partial<MailQueueSettings>, using: Mailer = mailer) => {
    const q = new MailQueue({
      deliveries,
      claims,
      mailer: using,
      logger: harness.logger,
      settings: { sweepMs: 3_600_000, ...settings },
    });
    queues.push(q);
    return q;
  };

  /** A delivery record as an earlier process left it. */
  const recorded = (event: EventEnvelope<MailRequest>, state: Partial<MailDelivery>) =>
    deliveries.create({
      _id: event.id,
      eventId: event.id,
      template: event.data.template,
      to: event.data.to,
      attempts: 0,
      createdAt: new Date(),
      ...state,
    });

  before(async () => {
    harness = await mongoHarness('notify-mailq');
    deliveries = await mailDeliveryModel(harness.runtime.connection);
    claims = await mailClaimModel(harness.runtime.connection);
    mailer = createMailer(smtp);
    brokenMailer = createMailer({ ...smtp, SMTP_PORT: await closedPort() });
  });

  after(async () => {
    await Promise.all(queues.map((q) => q.stop()));
    mailer.close();
    brokenMailer.close();
    await harness.close();
  });

  test('a queued mail is sent once, marked sent, and its params dropped; a redelivered event sends nothing more', async () => {
    const q = queue({});
    const to = uniqueAddress();
    const event = notificationMail(to);
    await q.enqueue(event);
    const queued = await deliveries.findById(event.id).lean();
    assert.ok(queued?.status === 'queued' || queued?.status === 'sent');
    const sent = await waitFor(() => deliveries.findOne({ _id: event.id, status: 'sent' }).lean());
    assert.equal(sent.attempts, 1);
    assert.ok(sent.messageId);
    assert.equal(sent.params, undefined, 'params are not kept once sent');
    assert.equal(sent.leaseUntil, undefined);
    const [mail, ...more] = await waitFor(async () => {
      const found = await mailsTo(to);
      return found.length > 0 ? found : undefined;
    });
    assert.equal(more.length, 0);
    assert.match(mail!.text, /Olive assigned you CORE-7/);

    await q.enqueue(event);
    await q.sweep();
    assert.equal(q.pending, 0);
    assert.equal((await mailsTo(to)).length, 1, 'no second mail for the redelivered event');
  });

  test('a failed send waits out its backoff and is then sent by a sweep; given up after the last attempt', async () => {
    const failing = queue({ backoffMs: 200, maxAttempts: 3, leaseMs: 60_000 }, brokenMailer);
    const to = uniqueAddress();
    const event = notificationMail(to);
    await failing.enqueue(event);
    const first = await waitFor(() => deliveries.findOne({ _id: event.id, attempts: 1 }).lean());
    assert.equal(first.status, 'queued');
    assert.match(first.lastError ?? '', /ECONNREFUSED/);
    assert.ok(first.leaseUntil && first.leaseUntil.getTime() > Date.now() - 1_000, 'a backoff is set');
    assert.doesNotMatch(first.lastError ?? '', new RegExp(to), 'the address is not in the error');

    // The second attempt, from a sweep once the backoff passed, fails too.
    await waitFor(async () => ((await failing.sweep()) > 0 ? true : undefined), { what: 'the retry taken' });
    await waitFor(() => deliveries.findOne({ _id: event.id, attempts: 2 }).lean());
    // SMTP is back: another replica's sweep takes it and sends it.
    const working = queue({ backoffMs: 200, maxAttempts: 3 });
    await waitFor(async () => ((await working.sweep()) > 0 ? true : undefined), { what: 'the mail taken' });
    const sent = await waitFor(() => deliveries.findOne({ _id: event.id, status: 'sent' }).lean());
    assert.equal(sent.attempts, 3);
    assert.equal(sent.lastError, null);
    assert.equal(
      (await waitFor(async () => ((await mailsTo(to)).length > 0 ? mailsTo(to) : undefined))).length,
      1,
    );

    const hopeless = notificationMail(uniqueAddress());
    const giving = queue({ backoffMs: 50, maxAttempts: 2 }, brokenMailer);
    await giving.enqueue(hopeless);
    await waitFor(() => deliveries.findOne({ _id: hopeless.id, attempts: 1 }).lean());
    await waitFor(async () => ((await giving.sweep()) > 0 ? true : undefined));
    const failed = await waitFor(() => deliveries.findOne({ _id: hopeless.id, status: 'failed' }).lean());
    assert.equal(failed.attempts, 2);
    assert.equal(failed.params, undefined);
  });

  test('a mail whose sender died is sent by the first replica to sweep, once, whoever sweeps with it', async () => {
    const to = uniqueAddress();
    const event = notificationMail(to);
    // What a replica that crashed after recording it leaves: queued, its lease run out.
    await recorded(event, {
      status: 'queued',
      params: event.data.params,
      leaseUntil: new Date(Date.now() - 1_000),
    });
    const replicas = [queue({}), queue({}), queue({})];
    const taken = await Promise.all(replicas.map((q) => q.sweep()));
    assert.equal(
      taken.reduce((sum, n) => sum + n, 0),
      1,
      'exactly one replica claimed it',
    );
    await waitFor(() => deliveries.findOne({ _id: event.id, status: 'sent' }).lean());
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await mailsTo(to)).length, 1);
  });

  test('a mail the in-line sender left "sending" (a crash before this version) is queued anew and sent once', async () => {
    const to = uniqueAddress();
    const event = notificationMail(to);
    await recorded(event, { status: 'sending' });
    await Promise.all([queue({}).enqueue(event), queue({}).enqueue(event)]);
    await waitFor(() => deliveries.findOne({ _id: event.id, status: 'sent' }).lean());
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await mailsTo(to)).length, 1);
  });

  test('stopping lets go of the mails still waiting: the next sweep sends them at once', async () => {
    // One send at a time on a refused port leaves the rest waiting when the queue stops.
    const stopping = queue({ concurrency: 1, backoffMs: 60_000 }, brokenMailer);
    const events = Array.from({ length: 5 }, () => notificationMail(uniqueAddress()));
    await Promise.all(events.map((event) => stopping.enqueue(event)));
    await stopping.stop();
    const left = await deliveries.find({ _id: { $in: events.map((e) => e.id) }, attempts: 0 }).lean();
    assert.ok(left.length > 0, 'some were still waiting');
    for (const mail of left) assert.equal(mail.leaseUntil?.getTime(), 0, 'released for any sweep');
    const next = queue({});
    await waitFor(async () => ((await next.sweep()) > 0 ? true : undefined));
    await waitFor(async () =>
      (await deliveries.countDocuments({ _id: { $in: left.map((m) => m._id) }, status: 'sent' })) ===
      left.length
        ? true
        : undefined,
    );
  });
});
