import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  closeServer,
  connectMongo,
  createBus,
  createEvent,
  identityEvents,
  listen,
  realtimeEvents,
  RevocationList,
  workEvents,
  type EventBus,
} from '@trellis/shared';
import {
  testKafka,
  testLogger,
  testMongoUrl,
  testSigner,
  topicMessageCount,
  waitFor,
  type TestKafka,
} from '@trellis/shared/testing';
import type { Connection } from 'mongoose';
import { WebSocket } from 'ws';
import type { z } from 'zod';
import type { RealtimeEvent } from '../src/realtime/channels.ts';
import { historyModels } from '../src/realtime/history.model.ts';
import { ChannelHistory } from '../src/realtime/history.ts';
import {
  createRealtime,
  type AccessVerdict,
  type ChannelAccess,
  type Realtime,
  type RealtimeDeps,
} from '../src/realtime/realtime.module.ts';

/** Grants per channel; a channel without an entry does not exist. */
class TestAccess implements ChannelAccess {
  private readonly grants = new Map<string, Set<string>>();
  readonly authorizations: string[] = [];

  grant(channel: string, ...userIds: string[]): string {
    const users = this.grants.get(channel) ?? new Set<string>();
    for (const id of userIds) users.add(id);
    this.grants.set(channel, users);
    return channel;
  }

  revoke(channel: string, userId: string): void {
    this.grants.get(channel)?.delete(userId);
  }

  async check(userId: string, channel: string, authorization: string): Promise<AccessVerdict> {
    this.authorizations.push(authorization);
    const users = this.grants.get(channel);
    if (!users) return 'NOT_FOUND';
    return users.has(userId) ? 'ok' : 'FORBIDDEN';
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- server messages, asserted field by field
type Message = Record<string, any>;

/** A WebSocket client that records every message and how it closed. */
class Client {
  readonly messages: Message[] = [];
  closed: { code: number; reason: string } | undefined;
  readonly ws: WebSocket;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data) => this.messages.push(JSON.parse(String(data)) as Message));
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
    });
  }

  static open(url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<Client> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options);
      const client = new Client(ws);
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  find(predicate: (m: Message) => boolean): Message | undefined {
    return this.messages.find(predicate);
  }

  waitFor(predicate: (m: Message) => boolean, what: string): Promise<Message> {
    return waitFor(() => this.find(predicate), { what });
  }

  subscribed(channel: string): Promise<Message> {
    return this.waitFor((m) => m.type === 'subscribed' && m.channel === channel, `subscribed ${channel}`);
  }

  error(channel: string): Promise<Message> {
    return this.waitFor((m) => m.type === 'error' && m.channel === channel, `an error for ${channel}`);
  }

  events(channel: string): Message[] {
    return this.messages.filter((m) => m.type === 'event' && m.channel === channel);
  }

  /** Waits until the channel's events reach `seq`, then returns their seqs in arrival order. */
  async seqsUpTo(channel: string, seq: number): Promise<number[]> {
    await waitFor(() => this.events(channel).some((m) => m.seq === seq), { what: `${channel} seq ${seq}` });
    return this.events(channel).map((m) => m.seq as number);
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

/** The HTTP status an upgrade attempt gets (101 when it succeeds), and the refusal's problem code. */
function upgradeAttempt(url: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; code?: string }>((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => {
      ws.close();
      resolve({ status: 101 });
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk) => (body += String(chunk)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, code: JSON.parse(body).code }));
    });
    ws.once('error', reject);
  });
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

function event(type = 'task.updated', data: Record<string, unknown> = {}): RealtimeEvent {
  return { id: randomUUID(), type, occurredAt: new Date().toISOString(), actorId: randomUUID(), data };
}

describe('realtime hub', () => {
  const logger = testLogger('notify');
  const kafka = testKafka('notify-realtime');
  const signer = testSigner();
  /** What the runtime's revocation feed would have learned (fed by hand here). */
  const revocations = new RevocationList();
  const access = new TestAccess();
  const connections: Connection[] = [];
  const buses: EventBus[] = [];
  const servers: Server[] = [];
  const hubs: Realtime[] = [];
  const clients: Client[] = [];
  let a: Realtime;
  let b: Realtime;
  let urlA: string;
  let urlB: string;

  /**
   * A replica on its own connection and bus, served by its own HTTP server; returns its ws:// base.
   * Replicas of one deployment share the database and the Kafka prefix (their source group).
   */
  async function replica(
    mongoUrl: string,
    options: Partial<RealtimeDeps> = {},
    deployment: TestKafka = kafka,
  ) {
    const connection = await connectMongo(mongoUrl, logger);
    const bus = createBus(
      'notify',
      {
        KAFKA_BROKERS: deployment.brokers,
        KAFKA_TOPIC_PREFIX: deployment.topicPrefix,
        KAFKA_TOPIC_PARTITIONS: deployment.partitions,
      },
      logger,
    );
    connections.push(connection);
    buses.push(bus);
    const realtime = await createRealtime({
      connection,
      bus,
      logger,
      access,
      resolveKey: signer.resolveKey,
      isRevoked: revocations.isRevoked,
      instanceId: kafka.groupId('replica'),
      ...options,
    });
    hubs.push(realtime);
    const server = createServer();
    server.on('upgrade', realtime.handleUpgrade);
    servers.push(server);
    const port = await listen(server, 0, '127.0.0.1');
    return { realtime, url: `ws://127.0.0.1:${port}`, connection, bus };
  }

  async function connect(base: string, userId: string, path = '/ws', options = {}): Promise<Client> {
    const client = await Client.open(`${base}${path}?access_token=${signer.sign({ sub: userId })}`, options);
    clients.push(client);
    return client;
  }

  const mongoUrl = testMongoUrl('notify-realtime');

  before(async () => {
    const first = await replica(mongoUrl);
    const second = await replica(mongoUrl);
    [a, b, urlA, urlB] = [first.realtime, second.realtime, first.url, second.url];
    await Promise.all([a.start(), b.start()]);
    // Both in the source group, so each publishes its fan-out for the other.
    const sharing = (hub: Realtime) => hub.membership().joined && !hub.membership().alone;
    await waitFor(() => sharing(a) && sharing(b), { what: 'both replicas in the source group' });
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    for (const hub of hubs) await hub.stop();
    for (const server of servers) await closeServer(server);
    for (const bus of buses) await bus.close();
    await connections[0]?.dropDatabase();
    for (const connection of connections) await connection.close();
  });

  test('two replicas appending 50 events to one channel assign seqs 1..50, each once', async () => {
    const channel = `project:${randomUUID()}`;
    const events = range(1, 50).map(() => event());
    const seqs = await Promise.all(events.map((e, i) => (i % 2 === 0 ? a : b).append(channel, e)));
    assert.deepEqual(
      [...seqs].sort((x, y) => x - y),
      range(1, 50),
    );

    // The same events again, through the other replica: the seqs they already have.
    const again = await Promise.all(events.map((e, i) => (i % 2 === 0 ? b : a).append(channel, e)));
    assert.deepEqual(again, seqs);
    const history = await historyModels(connections[0] as Connection);
    assert.equal(await history.entries.countDocuments({ channel }), 50);
  });

  test('appends made together go in together: consecutive seqs in the order made, and the same ones again', async () => {
    const models = await historyModels(connections[0] as Connection);
    const history = new ChannelHistory(models);
    const channel = `project:${randomUUID()}`;
    const events = range(1, 30).map(() => event());
    assert.deepEqual(await Promise.all(events.map((e) => history.append(channel, e))), range(1, 30));
    assert.deepEqual(await Promise.all(events.map((e) => history.append(channel, e))), range(1, 30));
    assert.equal(await models.entries.countDocuments({ channel }), 30);
    await history.flushHeads();
    assert.equal((await models.heads.findById(channel).lean())?.seq, 30, 'the head is written behind');
  });

  test('an event that opens its channel goes in at seq 1 without a lookup; a channel that exists after all keeps its seqs', async () => {
    const models = await historyModels(connections[0] as Connection);
    let lookups = 0;
    const counted = <M extends object>(model: M): M =>
      new Proxy(model, {
        get(target, key, receiver) {
          const value = Reflect.get(target, key, receiver) as unknown;
          if (!['findById', 'exists', 'findOne'].includes(String(key)) || typeof value !== 'function')
            return value;
          return (...args: unknown[]) => {
            lookups += 1;
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
    const history = new ChannelHistory({
      ...models,
      entries: counted(models.entries),
      heads: counted(models.heads),
    });
    const channel = `task:${randomUUID()}`;
    const created = event();
    assert.equal(await history.append(channel, created, { opens: true }), 1);
    assert.equal(lookups, 0, 'a new channel is not looked up');
    await history.flushHeads();
    assert.equal((await models.heads.findById(channel).lean())?.seq, 1, 'its head is inserted');

    // Another process (no memory of the channel) gets the same event again, then more: same seq, no reuse.
    assert.equal(await history.append(channel, event()), 2);
    const fresh = new ChannelHistory(models);
    assert.equal(await fresh.append(channel, created, { opens: true }), 1, 'a redelivery keeps its seq');
    const fresher = new ChannelHistory(models);
    assert.equal(
      await fresher.append(channel, event(), { opens: true }),
      3,
      'a wrong hint takes the next seq',
    );
    assert.equal(await models.entries.countDocuments({ channel }), 3);
  });

  test('appends to several channels made together reach the store in one insert, also past a refusal', async () => {
    const models = await historyModels(connections[0] as Connection);
    let inserts = 0;
    const entries = new Proxy(models.entries, {
      get(target, key, receiver) {
        if (key !== 'insertMany') return Reflect.get(target, key, receiver) as unknown;
        return (...args: Parameters<typeof target.insertMany>) => {
          inserts += 1;
          return target.insertMany(...args);
        };
      },
    });
    const history = new ChannelHistory({ ...models, entries });
    const channels = range(1, 5).map(() => `task:${randomUUID()}`);
    for (const channel of channels) assert.equal(await history.append(channel, event()), 1);

    inserts = 0;
    assert.deepEqual(
      await Promise.all(channels.map((channel) => history.append(channel, event()))),
      [2, 2, 2, 2, 2],
    );
    assert.equal(inserts, 1, 'one insert for the five channels');

    // Another replica takes the next seq of the first channel: the shared insert stops at it, and
    // every append still gets the right seq (the refused one past the other's, the rest their next).
    const other = new ChannelHistory(models);
    assert.equal(await other.append(channels[0] as string, event()), 3);
    assert.deepEqual(
      await Promise.all(channels.map((channel) => history.append(channel, event()))),
      [4, 3, 3, 3, 3],
    );
    for (const channel of channels)
      assert.deepEqual(
        (await models.entries.find({ channel }, { seq: 1 }).lean()).map((e) => e.seq).sort((x, y) => x - y),
        channel === channels[0] ? [1, 2, 3, 4] : [1, 2, 3],
      );
  });

  test('new channels get their heads in one insert; a head another replica wrote meanwhile is moved on', async () => {
    const models = await historyModels(connections[0] as Connection);
    const calls = { insertMany: 0, updateOne: 0 };
    const heads = new Proxy(models.heads, {
      get(target, key, receiver) {
        if (key !== 'insertMany' && key !== 'updateOne') return Reflect.get(target, key, receiver) as unknown;
        return (...args: unknown[]) => {
          calls[key] += 1;
          return (Reflect.get(target, key, receiver) as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const history = new ChannelHistory({ ...models, heads });
    const channels = range(1, 6).map(() => `task:${randomUUID()}`);
    for (const channel of channels) assert.equal(await history.append(channel, event()), 1);
    await history.append(channels[0] as string, event());
    // Another replica wrote the head of the last channel between this one's look and its flush.
    await models.heads.create({ _id: channels[5], seq: 1, first: 1 });
    const other = new ChannelHistory(models);
    assert.equal(await other.append(channels[5] as string, event()), 2);
    assert.equal(await history.append(channels[5] as string, event()), 3);

    await history.flushHeads();
    assert.equal(calls.insertMany, 1, 'one insert for the new heads');
    assert.equal(calls.updateOne, 1, 'an update only for the head that existed');
    const written = await models.heads.find({ _id: { $in: channels } }).lean();
    assert.deepEqual(
      channels.map((channel) => written.find((head) => head._id === channel)?.seq),
      [2, 1, 1, 1, 1, 3],
    );
  });

  test('a head left far behind (a crash before its flush) costs a few probes, nothing else', async () => {
    const models = await historyModels(connections[0] as Connection);
    const channel = `chat:${randomUUID()}`;
    const first = new ChannelHistory(models);
    await Promise.all(range(1, 40).map(() => first.append(channel, event('message.created'))));
    await first.flushHeads();
    await models.heads.updateOne({ _id: channel }, { $set: { seq: 3 } });

    const restarted = new ChannelHistory(models);
    assert.equal(await restarted.lastSeq(channel), 40);
    assert.equal(await restarted.append(channel, event('message.created')), 41);
    // The other instance still believes 40 is the newest: its insert at 41 is refused, and it moves past.
    assert.equal(await first.append(channel, event('message.created')), 42);
  });

  test('refuses upgrades without a valid token (401) and on unknown paths (404)', async () => {
    const other = testSigner();
    assert.deepEqual(await upgradeAttempt(`${urlA}/ws`), { status: 401, code: 'UNAUTHENTICATED' });
    for (const token of [
      'not-a-jwt',
      signer.sign({}, {}, other.privateKey), // signed by a key we do not trust
      signer.sign({}, { expiresIn: -10 }),
    ]) {
      assert.equal((await upgradeAttempt(`${urlA}/ws?access_token=${token}`)).status, 401);
    }
    const bearer = { Authorization: `Bearer ${signer.sign()}` };
    assert.equal((await upgradeAttempt(`${urlA}/ws`, bearer)).status, 101, 'the header works too');
    assert.deepEqual(await upgradeAttempt(`${urlA}/nope`, bearer), { status: 404, code: 'NOT_FOUND' });
    assert.equal((await upgradeAttempt(`${urlA}/ws/projects/nope`, bearer)).status, 404);
  });

  test('welcome, the inbox, subscribe, ping, and live events in seq order from both replicas', async () => {
    const userId = randomUUID();
    const project = access.grant(`project:${randomUUID()}`, userId);
    const client = await connect(urlA, userId);
    assert.deepEqual(client.messages[0], { type: 'welcome', userId });
    assert.equal((await client.subscribed(`user:${userId}`)).seq, 0);

    const notification = event('notification.created', { title: 'You were assigned' });
    assert.equal(await b.append(`user:${userId}`, notification), 1);
    const inbox = await client.waitFor((m) => m.type === 'event' && m.channel === `user:${userId}`, 'inbox');
    assert.deepEqual(inbox, { type: 'event', channel: `user:${userId}`, seq: 1, event: notification });

    await a.append(project, event());
    client.send({ type: 'subscribe', channel: project });
    assert.equal((await client.subscribed(project)).seq, 1, 'the current last seq');
    assert.match(access.authorizations.at(-1) ?? '', /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);

    const sent = range(1, 6).map(() => event());
    for (const [i, e] of sent.entries()) await (i % 2 === 0 ? a : b).append(project, e);
    assert.deepEqual(await client.seqsUpTo(project, 7), range(2, 7), 'only events after subscribing');
    assert.deepEqual(
      client.events(project).map((m) => m.event.id),
      sent.map((e) => e.id),
    );

    client.send({ type: 'ping' });
    await client.waitFor((m) => m.type === 'pong', 'pong');

    // Unsubscribed: nothing more from the project (messages are handled in order, so the pong
    // after the unsubscribe means it has been processed).
    client.send({ type: 'unsubscribe', channel: project });
    client.send({ type: 'ping' });
    await waitFor(() => client.messages.filter((m) => m.type === 'pong').length === 2, { what: 'pong' });
    await a.append(project, event());
    await a.append(`user:${userId}`, event('notification.created'));
    await client.seqsUpTo(`user:${userId}`, 2);
    assert.equal(client.events(project).length, 6);
  });

  test('an oversized message closes the socket (1009)', async () => {
    const client = await connect(urlA, randomUUID());
    client.send({ type: 'ping', padding: 'x'.repeat(20 * 1024) });
    await waitFor(() => client.closed, { what: 'the socket to close' });
    assert.equal(client.closed?.code, 1009);
  });

  test('a reconnecting client resumes with since: exactly the missed events in order, then live', async () => {
    const userId = randomUUID();
    const project = access.grant(`project:${randomUUID()}`, userId);
    const first = await connect(urlA, userId);
    first.send({ type: 'subscribe', channel: project });
    await first.subscribed(project);
    for (let i = 0; i < 3; i += 1) await a.append(project, event());
    const lastSeen = (await first.seqsUpTo(project, 3)).at(-1) as number;
    await first.close();

    for (let i = 0; i < 20; i += 1) await (i % 2 === 0 ? a : b).append(project, event());

    const second = await connect(urlB, userId);
    second.send({ type: 'subscribe', channel: project, since: lastSeen });
    assert.equal((await second.subscribed(project)).seq, 23);
    assert.deepEqual(await second.seqsUpTo(project, 23), range(4, 23));
    await a.append(project, event());
    await b.append(project, event());
    assert.deepEqual(await second.seqsUpTo(project, 25), range(4, 25));
    assert.equal(
      second.find((m) => m.type === 'reset'),
      undefined,
    );
  });

  test('a subscribe with since after live events on the same socket sends nothing twice', async () => {
    // The user channel is subscribed on connect; a resuming client then asks for it again with the
    // seq it saw before, while events it has just been sent live are still on their way to it.
    const userId = randomUUID();
    const channel = `user:${userId}`;
    for (let i = 0; i < 3; i += 1) await a.append(channel, event());
    const client = await connect(urlA, userId);
    await client.subscribed(channel);
    for (let i = 0; i < 3; i += 1) await b.append(channel, event());
    assert.deepEqual(await client.seqsUpTo(channel, 6), [4, 5, 6], 'live after connecting');
    client.send({ type: 'subscribe', channel, since: 1 });
    await a.append(channel, event());
    assert.deepEqual(await client.seqsUpTo(channel, 7), [4, 5, 6, 2, 3, 7], 'what it lacked, then live');
    assert.equal(new Set(client.events(channel).map((m) => m.seq)).size, 6, 'no seq twice');
  });

  test('events reach sockets in seq order even when the internal topic carries them out of order', async () => {
    const userId = randomUUID();
    const channel = access.grant(`task:${randomUUID()}`, userId);
    const client = await connect(urlB, userId);
    client.send({ type: 'subscribe', channel });
    assert.equal((await client.subscribed(channel)).seq, 0);

    // Seqs assigned in the history without publishing, then published as 3, 1, 2, 5, 4 (and 3 again).
    const history = new ChannelHistory(await historyModels(connections[0] as Connection));
    const events = range(1, 5).map(() => event());
    for (const e of events) await history.append(channel, e);
    const bus = buses[0] as EventBus;
    for (const seq of [3, 1, 2, 5, 4, 3]) {
      const data = { channel, seq, event: events[seq - 1] as RealtimeEvent };
      await bus.publish([
        {
          topic: 'notify.realtime',
          event: createEvent(realtimeEvents.realtimePublished, 'notify', { subjectId: channel, data }),
        },
      ]);
    }
    assert.deepEqual(await client.seqsUpTo(channel, 5), range(1, 5));
    assert.deepEqual(
      client.events(channel).map((m) => m.event.id),
      events.map((e) => e.id),
    );
    // A marker after the duplicates proves they were dropped, not merely late.
    await a.append(channel, event());
    assert.deepEqual(await client.seqsUpTo(channel, 6), range(1, 6));
  });

  test('access checks: NOT_FOUND, FORBIDDEN and BAD_REQUEST become error messages', async () => {
    const userId = randomUUID();
    const client = await connect(urlA, userId);
    await client.subscribed(`user:${userId}`);

    const missing = `project:${randomUUID()}`;
    client.send({ type: 'subscribe', channel: missing });
    assert.deepEqual(await client.error(missing), {
      type: 'error',
      channel: missing,
      code: 'NOT_FOUND',
      message: 'The channel does not exist.',
    });
    const foreign = access.grant(`chat:${randomUUID()}`, randomUUID());
    client.send({ type: 'subscribe', channel: foreign });
    assert.equal((await client.error(foreign)).code, 'FORBIDDEN');
    const someoneElsesInbox = `user:${randomUUID()}`;
    client.send({ type: 'subscribe', channel: someoneElsesInbox });
    assert.equal((await client.error(someoneElsesInbox)).code, 'FORBIDDEN');
    client.send({ type: 'subscribe', channel: 'project:42' });
    assert.equal((await client.error('project:42')).code, 'BAD_REQUEST');

    const before = client.messages.length;
    client.send('{"type": "subscribe", ');
    client.send({ type: 'shout', channel: missing });
    client.send({ type: 'subscribe' });
    client.send({ type: 'subscribe', channel: missing, since: -1 });
    const errors = await waitFor(
      () => {
        const found = client.messages.slice(before).filter((m) => m.type === 'error');
        return found.length === 4 ? found : undefined;
      },
      { what: 'four BAD_REQUEST errors' },
    );
    assert.deepEqual(
      errors.map((m) => m.code),
      ['BAD_REQUEST', 'BAD_REQUEST', 'BAD_REQUEST', 'BAD_REQUEST'],
    );
    assert.equal(client.closed, undefined, 'errors do not close the socket');
  });

  test('accessChanged ends a subscription with ACCESS_REVOKED on another replica', async () => {
    const userId = randomUUID();
    const orgId = randomUUID();
    const revoked = access.grant(`project:${randomUUID()}`, userId);
    const kept = access.grant(`project:${randomUUID()}`, userId);
    const orgChannel = access.grant(`org:${orgId}`, userId);
    const client = await connect(urlB, userId);
    for (const channel of [revoked, kept, orgChannel]) client.send({ type: 'subscribe', channel });
    await Promise.all([client.subscribed(revoked), client.subscribed(kept), client.subscribed(orgChannel)]);

    access.revoke(revoked, userId);
    await a.accessChanged(null, [userId]);
    assert.deepEqual(await client.waitFor((m) => m.type === 'unsubscribed', 'unsubscribed'), {
      type: 'unsubscribed',
      channel: revoked,
      reason: 'ACCESS_REVOKED',
    });
    await a.append(revoked, event());
    await a.append(kept, event());
    await client.seqsUpTo(kept, 1);
    assert.deepEqual(client.events(revoked), [], 'nothing more from the revoked channel');

    // Org-wide: every local socket's subscriptions are re-checked.
    access.revoke(orgChannel, userId);
    await a.accessChanged(orgId, []);
    await client.waitFor((m) => m.type === 'unsubscribed' && m.channel === orgChannel, 'org revoked');
    assert.equal(client.messages.filter((m) => m.type === 'unsubscribed').length, 2, 'the kept one stays');
  });

  test('/ws/projects/{id} subscribes the project after the access check; /ws/notifications the inbox', async () => {
    const userId = randomUUID();
    const project = access.grant(`project:${randomUUID()}`, userId);
    const alias = await connect(urlA, userId, `/ws/${project.replace(':', 's/')}`);
    await alias.subscribed(`user:${userId}`);
    await alias.subscribed(project);

    const forbidden = access.grant(`project:${randomUUID()}`, randomUUID());
    const refused = await connect(urlA, userId, `/ws/${forbidden.replace(':', 's/')}`);
    assert.equal((await refused.error(forbidden)).code, 'FORBIDDEN');

    const inbox = await connect(urlA, userId, '/ws/notifications');
    await inbox.subscribed(`user:${userId}`);
    await a.append(`user:${userId}`, event('notification.created'));
    await inbox.seqsUpTo(`user:${userId}`, 1);
    await alias.seqsUpTo(`user:${userId}`, 1);
  });

  test('the socket closes with 4001 when its access token expires', async () => {
    const userId = randomUUID();
    const token = signer.sign({ sub: userId }, { expiresIn: 2 });
    const client = await Client.open(`${urlA}/ws?access_token=${token}`);
    clients.push(client);
    await client.subscribed(`user:${userId}`);
    await waitFor(() => client.closed, { what: 'the socket to close' });
    assert.equal(client.closed?.code, 4001);
  });

  test('sockets opened with a revoked token close with 4002 on every replica; others stay open; it opens no more', async () => {
    const userId = randomUUID();
    const jti = randomUUID();
    const token = (tokenId: string) => signer.sign({ sub: userId, jti: tokenId });
    const open = async (base: string, tokenId: string) => {
      const client = await Client.open(`${base}/ws?access_token=${token(tokenId)}`);
      clients.push(client);
      await client.subscribed(`user:${userId}`);
      return client;
    };
    const [onA, onB, other] = [await open(urlA, jti), await open(urlB, jti), await open(urlA, randomUUID())];
    const revoked = createEvent(identityEvents.sessionRevoked, 'identity', {
      subjectId: userId,
      actorId: userId,
      data: {
        userId,
        familyId: randomUUID(),
        jti,
        expiresAt: new Date(Date.now() + 60_000).toISOString(),
        reason: 'logout',
      },
    });
    await (buses[0] as EventBus).publish([{ topic: identityEvents.sessionRevoked.topic, event: revoked }]);
    await waitFor(() => onA.closed && onB.closed, { what: 'both sockets of the revoked token to close' });
    assert.deepEqual(onA.closed, { code: 4002, reason: 'access token revoked' });
    assert.deepEqual(onB.closed, { code: 4002, reason: 'access token revoked' });
    other.send({ type: 'ping' });
    await other.waitFor((m) => m.type === 'pong', 'pong on the socket of another token');
    assert.equal(other.closed, undefined);

    revocations.apply(revoked);
    assert.deepEqual(await upgradeAttempt(`${urlB}/ws?access_token=${token(jti)}`), {
      status: 401,
      code: 'UNAUTHENTICATED',
    });
  });

  describe('with tiny limits (a replica on its own database)', () => {
    let small: Awaited<ReturnType<typeof replica>>;

    before(async () => {
      small = await replica(
        testMongoUrl('notify-realtime-small'),
        { historyLimit: 2, historyMaxAgeMs: 0, heartbeatMs: 200, maxSubscriptions: 3 },
        testKafka('notify-realtime-small'),
      );
      await small.realtime.start();
    });

    after(async () => {
      await small.connection.dropDatabase();
    });

    test('since older than the retained history gets reset; retention keeps the newest', async () => {
      const userId = randomUUID();
      const channel = access.grant(`chat:${randomUUID()}`, userId);
      for (let i = 0; i < 5; i += 1) await small.realtime.append(channel, event('message.created'));
      assert.ok((await small.realtime.pruneHistory()) >= 3);
      const history = new ChannelHistory(await historyModels(small.connection));
      assert.equal(await history.oldestSeq(channel), 4);
      assert.equal(await history.lastSeq(channel), 5);

      const client = await connect(small.url, userId);
      client.send({ type: 'subscribe', channel, since: 1 });
      assert.equal((await client.subscribed(channel)).seq, 5);
      await client.waitFor((m) => m.type === 'reset' && m.channel === channel, 'reset');
      assert.deepEqual(client.events(channel), [], 'nothing replayed after a reset');

      // Subscribing again restarts from `since`: 4 and 5 are still there.
      client.send({ type: 'subscribe', channel, since: 3 });
      assert.deepEqual(await client.seqsUpTo(channel, 5), [4, 5]);
      await small.realtime.append(channel, event('message.created'));
      assert.deepEqual(await client.seqsUpTo(channel, 6), [4, 5, 6]);
      assert.equal(client.messages.filter((m) => m.type === 'reset').length, 1);

      // Never below one entry per channel, whatever the limit says.
      const single = `chat:${randomUUID()}`;
      await small.realtime.append(single, event('message.created'));
      await history.prune({ maxAgeMs: 0, keepLast: 0 });
      assert.equal(await history.lastSeq(single), 1);
      assert.equal(await small.realtime.append(single, event('message.created')), 2);
    });

    test('subscriptions per socket are bounded', async () => {
      const userId = randomUUID();
      const client = await connect(small.url, userId);
      const channels = range(1, 3).map(() => access.grant(`project:${randomUUID()}`, userId));
      for (const channel of channels) client.send({ type: 'subscribe', channel });
      await client.subscribed(channels[0] as string);
      await client.subscribed(channels[1] as string);
      const refused = await client.error(channels[2] as string);
      assert.equal(refused.code, 'BAD_REQUEST');
      assert.match(refused.message, /At most 3 subscriptions/);
    });

    test('heartbeats drop a socket that stops answering pings', async () => {
      const userId = randomUUID();
      const healthy = await connect(small.url, userId);
      const silent = await connect(small.url, userId, '/ws', { autoPong: false });
      await waitFor(() => silent.closed, { what: 'the silent socket to be dropped' });
      assert.equal(healthy.closed, undefined);
      healthy.send({ type: 'ping' });
      await healthy.waitFor((m) => m.type === 'pong', 'pong');
    });

    test('stop closes every socket with 1012 (Service Restart)', async () => {
      const client = await connect(small.url, randomUUID());
      await client.waitFor((m) => m.type === 'welcome', 'welcome');
      await small.realtime.stop();
      await waitFor(() => client.closed, { what: 'close' });
      assert.equal(client.closed?.code, 1012);
      assert.equal((await upgradeAttempt(`${small.url}/ws?access_token=${signer.sign()}`)).status, 503);
    });
  });

  describe('source subscriptions', () => {
    test('public events reach their project and task channels once, even when redelivered', async () => {
      const userId = randomUUID();
      const orgId = randomUUID();
      const projectId = randomUUID();
      const taskId = randomUUID();
      const project = access.grant(`project:${projectId}`, userId);
      const task = access.grant(`task:${taskId}`, userId);
      const client = await connect(urlB, userId);
      client.send({ type: 'subscribe', channel: project });
      client.send({ type: 'subscribe', channel: task });
      await Promise.all([client.subscribed(project), client.subscribed(task)]);

      const updated = createEvent(workEvents.taskUpdated, 'work', {
        subjectId: taskId,
        orgId,
        actorId: userId,
        data: {
          taskId,
          orgId,
          projectId,
          key: 'PRJ-1',
          number: 1,
          parentId: null,
          title: 'Ship it',
          status: 'DONE',
          priority: 'HIGH',
          type: 'TASK',
          assigneeId: null,
          reporterId: userId,
          sprintId: null,
          estimate: 3,
          labels: [],
          dueDate: null,
          completedAt: new Date().toISOString(),
          version: 2,
          changes: { status: { from: 'IN_REVIEW', to: 'DONE' } },
        },
      });
      const memberAdded = createEvent(workEvents.projectMemberAdded, 'work', {
        subjectId: projectId,
        orgId,
        actorId: userId,
        data: { projectId, orgId, userId: randomUUID(), role: 'VIEWER' },
      });
      const marker = createEvent(workEvents.taskDeleted, 'work', {
        subjectId: taskId,
        orgId,
        actorId: userId,
        data: { taskId, orgId, projectId, key: 'PRJ-1', subtaskIds: [] },
      });
      const bus = buses[0] as EventBus;
      // The same key keeps the three in order: the redelivered event, then a marker after it.
      await bus.publish([
        { topic: 'work.task', event: updated },
        { topic: 'work.task', event: updated },
        { topic: 'work.task', event: marker },
        { topic: 'work.project', event: memberAdded },
      ]);

      assert.deepEqual(await client.seqsUpTo(task, 2), [1, 2]);
      const [onTask, deleted] = client.events(task);
      assert.deepEqual(onTask?.event, {
        id: updated.id,
        type: 'task.updated',
        occurredAt: updated.occurredAt,
        actorId: userId,
        data: updated.data,
      });
      assert.equal(deleted?.event.id, marker.id);

      // task.updated and member.added arrive on different topics: either may take seq 1 on the project.
      assert.deepEqual(await client.seqsUpTo(project, 3), [1, 2, 3]);
      assert.deepEqual(
        client
          .events(project)
          .map((m) => m.event.type)
          .sort(),
        ['member.added', 'task.deleted', 'task.updated'],
      );
    });
  });

  describe('project announcements', () => {
    test('a project reaches the org channel once, as project.created, when the whole org can first see it', async () => {
      const userId = randomUUID();
      const orgId = randomUUID();
      const org = access.grant(`org:${orgId}`, userId);
      const client = await connect(urlA, userId);
      client.send({ type: 'subscribe', channel: org });
      await client.subscribed(org);

      const pendingId = randomUUID();
      type Project = z.infer<typeof workEvents.projectCreated.data>;
      const project = (
        projectId: string,
        visibility: Project['visibility'],
        status: Project['status'],
        name = 'Roadmap',
      ): Project => ({
        projectId,
        orgId,
        teamId: null,
        name,
        key: 'RM',
        status,
        visibility,
        ownerId: userId,
      });
      // One key for all: the events keep their order on one partition.
      const projectEvent = (definition: typeof workEvents.projectCreated, data: Project) =>
        createEvent(definition, 'work', { subjectId: pendingId, orgId, actorId: userId, data });
      const pending = projectEvent(workEvents.projectCreated, project(pendingId, 'ORG', 'PENDING_APPROVAL'));
      const approved = projectEvent(workEvents.projectUpdated, project(pendingId, 'ORG', 'ACTIVE'));
      const renamed = projectEvent(workEvents.projectUpdated, project(pendingId, 'ORG', 'ACTIVE', 'Plan'));
      const privateId = randomUUID();
      const hidden = projectEvent(workEvents.projectCreated, project(privateId, 'PRIVATE', 'ACTIVE'));
      const opened = projectEvent(workEvents.projectUpdated, project(privateId, 'ORG', 'ACTIVE'));
      const bus = buses[0] as EventBus;
      await bus.publish(
        [pending, approved, approved, renamed, hidden, opened].map((event) => ({
          topic: 'work.project',
          event,
        })),
      );

      // The approval and the PRIVATE → ORG change announce; the pending creation, the redelivered
      // approval, the rename and the private creation do not (any of them would have taken seq 1
      // or 2 before the last event's announcement).
      assert.deepEqual(await client.seqsUpTo(org, 2), [1, 2]);
      const [first, second] = client.events(org).map((m) => m.event as RealtimeEvent);
      assert.deepEqual(first, {
        id: approved.id,
        type: 'project.created',
        occurredAt: approved.occurredAt,
        actorId: userId,
        data: approved.data,
      });
      assert.deepEqual([second?.id, second?.type], [opened.id, 'project.created']);
    });
  });

  describe('a replica alone in its source group (a deployment of its own)', () => {
    const deployment = testKafka('notify-realtime-solo');
    const mongoUrl = testMongoUrl('notify-realtime-solo');
    let solo: Awaited<ReturnType<typeof replica>>;
    const internalMessages = () => topicMessageCount(deployment, realtimeEvents.realtimePublished.topic);

    /** Waits until the hub's publishes so far are all taken: a marker goes out after them, in order. */
    const afterPublishes = (hub: Realtime) => hub.accessChanged(null, []);

    before(async () => {
      solo = await replica(mongoUrl, {}, deployment);
      await solo.realtime.start();
      await waitFor(() => solo.realtime.membership().alone, { what: 'the replica alone in its group' });
    });

    after(async () => {
      await solo.connection.dropDatabase();
    });

    test('its events skip the internal topic; its own sockets get them, from the public topics too', async () => {
      const userId = randomUUID();
      const projectId = randomUUID();
      const channel = access.grant(`project:${projectId}`, userId);
      const client = await connect(solo.url, userId);
      client.send({ type: 'subscribe', channel });
      await client.subscribed(channel);
      await afterPublishes(solo.realtime);
      const before = await internalMessages();

      await solo.realtime.append(channel, event());
      const taskId = randomUUID();
      const orgId = randomUUID();
      const deleted = createEvent(workEvents.taskDeleted, 'work', {
        subjectId: taskId,
        orgId,
        actorId: userId,
        data: { taskId, orgId, projectId, key: 'SOLO-1', subtaskIds: [] },
      });
      await solo.bus.publish([{ topic: workEvents.taskDeleted.topic, event: deleted }]);
      assert.deepEqual(await client.seqsUpTo(channel, 2), [1, 2]);

      await afterPublishes(solo.realtime);
      assert.equal(await internalMessages(), before + 1, 'only the marker went out');
    });

    test('a replica joining later gets from the history what the lone one kept to itself, then live events', async () => {
      const userId = randomUUID();
      const channel = access.grant(`project:${randomUUID()}`, userId);
      await solo.realtime.append(channel, event());
      // A second replica, serving a socket before it has joined the group.
      const late = await replica(mongoUrl, {}, deployment);
      const client = await connect(late.url, userId);
      client.send({ type: 'subscribe', channel });
      assert.equal((await client.subscribed(channel)).seq, 1);

      assert.equal(await solo.realtime.append(channel, event()), 2); // still alone: not published
      await late.realtime.start();
      assert.deepEqual(await client.seqsUpTo(channel, 2), [2]);

      const sharing = (hub: Realtime) => hub.membership().joined && !hub.membership().alone;
      await waitFor(() => sharing(solo.realtime) && sharing(late.realtime), { what: 'both in the group' });
      const before = await internalMessages();
      await solo.realtime.append(channel, event());
      assert.deepEqual(await client.seqsUpTo(channel, 3), [2, 3]);
      await afterPublishes(solo.realtime);
      assert.equal(
        await internalMessages(),
        before + 2,
        'the event went out for the other replica, then the marker',
      );

      // Once the other has left, the first is alone again.
      await late.realtime.stop();
      await waitFor(() => solo.realtime.membership().alone, { what: 'the first alone again' });
    });
  });
});
