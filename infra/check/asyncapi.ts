// npm run docs:asyncapi — writes services/gateway/asyncapi.json, the AsyncAPI 3 document of the suite:
// every Kafka topic with its event types (payload schemas from the zod catalogue), who publishes them
// and every consumer group that reads them (event-groups.ts), and the WebSocket protocol of /ws
// (notify's protocol.ts). The gateway serves it at /api/asyncapi.json. `--check` (in npm run check)
// fails when the file is stale.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { z } from 'zod';
import { eventDefinition, eventTypes, realtimeEvents, TOPICS } from '@trellis/shared';
import { clientMessageSchema, serverMessageSchema } from '../../services/notify/src/realtime/protocol.ts';
import { groups } from './event-groups.ts';
import { writeOrCheck } from './generated-file.ts';

const file = join(import.meta.dirname, '..', '..', 'services', 'gateway', 'asyncapi.json');
const version = (
  JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as {
    version: string;
  }
).version;

const schemaOf = (schema: z.ZodType) => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, {
    io: 'output',
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  return rest;
};

/** The envelope every event travels in (shared/src/events/envelope.ts), around its type's `data`. */
function envelope(type: string, data: z.ZodType) {
  return {
    type: 'object',
    required: ['id', 'type', 'version', 'source', 'occurredAt', 'subjectId', 'data'],
    properties: {
      id: { type: 'string', format: 'uuid', description: 'Unique per event: consumers deduplicate by it' },
      type: { const: type },
      version: { type: 'integer', minimum: 1 },
      source: { type: 'string', description: 'The publishing service' },
      occurredAt: { type: 'string', format: 'date-time' },
      orgId: { type: ['string', 'null'], format: 'uuid' },
      actorId: { type: ['string', 'null'], format: 'uuid' },
      subjectId: { type: 'string', description: 'Kafka key: events of one subject keep their order' },
      correlationId: { type: ['string', 'null'], description: 'The request that caused it' },
      data: schemaOf(data),
    },
  };
}

const key = (name: string) => name.replace(/[^a-zA-Z0-9.\-_]/g, '_');

function document() {
  const types = eventTypes()
    .filter((type) => !type.startsWith('test.'))
    .sort();
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  for (const topic of [...TOPICS, 'notify.realtime']) {
    const onTopic = types.filter((type) => eventDefinition(type)?.topic === topic);
    if (onTopic.length === 0) continue;
    const publisher = topic.split('.')[0]!;
    for (const type of onTopic) {
      const definition = eventDefinition(type)!;
      messages[key(type)] = {
        name: type,
        title: type,
        contentType: 'application/json',
        summary: `${type} (version ${definition.version}), published by ${publisher}`,
        payload: envelope(type, definition.data as z.ZodType),
      };
    }
    const refs = (list: string[]) =>
      Object.fromEntries(list.map((type) => [key(type), { $ref: `#/components/messages/${key(type)}` }]));
    channels[key(topic)] = {
      address: topic,
      title: topic,
      description: `Kafka topic; its dead-letter twin is \`${topic}.dlq\`. Keyed by subjectId.`,
      servers: [{ $ref: '#/servers/kafka' }],
      messages: refs(onTopic),
    };
    const channelMessages = (list: string[]) =>
      list.map((type) => ({ $ref: `#/channels/${key(topic)}/messages/${key(type)}` }));
    operations[key(`${publisher}.publishes.${topic}`)] = {
      action: 'send',
      title: `${publisher} publishes on ${topic}`,
      summary: 'Through its transactional outbox: an event is published once its write commits.',
      channel: { $ref: `#/channels/${key(topic)}` },
      messages: channelMessages(onTopic),
    };
    for (const group of groups) {
      const read = group.reads.filter((r) => r.topic === topic);
      if (read.length === 0) continue;
      const readTypes = read.some((r) => r.type === '*')
        ? onTopic
        : onTopic.filter((t) => read.some((r) => r.type === t));
      if (readTypes.length === 0) continue;
      operations[key(`${group.group}.reads.${topic}`)] = {
        action: 'receive',
        title: `${group.service} (group ${group.group}) reads ${topic}`,
        summary:
          'Idempotent: a redelivered event changes nothing. A message it cannot handle goes to the DLQ.',
        channel: { $ref: `#/channels/${key(topic)}` },
        messages: channelMessages(readTypes),
      };
    }
  }
  messages['ws.client'] = {
    name: 'ClientMessage',
    title: 'What a WebSocket client sends',
    contentType: 'application/json',
    payload: schemaOf(clientMessageSchema),
  };
  messages['ws.server'] = {
    name: 'ServerMessage',
    title: 'What the server sends on /ws',
    contentType: 'application/json',
    payload: schemaOf(serverMessageSchema),
  };
  channels.ws = {
    address: '/ws',
    title: 'Real-time feed (api.md §9)',
    description:
      'Open with `?access_token=<JWT>`. Subscribe to `project:<id>`, `task:<id>`, `org:<id>`, `chat:<id>`; ' +
      'the inbox `user:<id>` comes with the socket. Each channel numbers its events 1, 2, 3 …; resume ' +
      'with `since` after a reconnect. Closes 4001 when the token expires, 4002 when it is revoked.',
    servers: [{ $ref: '#/servers/gateway' }],
    messages: {
      client: { $ref: '#/components/messages/ws.client' },
      server: { $ref: '#/components/messages/ws.server' },
    },
  };
  operations['ws.send'] = {
    action: 'receive',
    title: 'The gateway receives subscribe, unsubscribe and ping',
    channel: { $ref: '#/channels/ws' },
    messages: [{ $ref: '#/channels/ws/messages/client' }],
  };
  operations['ws.receive'] = {
    action: 'send',
    title: 'The gateway sends welcome, subscribed, event, error, pong, unsubscribed and reset',
    channel: { $ref: '#/channels/ws' },
    messages: [{ $ref: '#/channels/ws/messages/server' }],
  };
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Trellis events',
      version,
      description:
        'The Kafka events the Trellis services exchange (outbox on the way out, idempotent consumers on ' +
        'the way in), and the WebSocket protocol the gateway offers clients. Generated from the event ' +
        'catalogue (shared/src/events/catalogue) and each service’s one subscription list.',
      license: { name: 'MIT', url: 'https://opensource.org/licenses/MIT' },
    },
    defaultContentType: 'application/json',
    servers: {
      kafka: {
        host: 'kafka:9092',
        protocol: 'kafka',
        description: 'The suite’s broker (compose and Kubernetes)',
      },
      gateway: {
        host: 'localhost:8080',
        protocol: 'ws',
        description: 'The gateway; /ws is proxied to notify',
      },
    },
    channels,
    operations,
    components: { messages },
  };
}

// realtimeEvents is imported for its registration side effect (notify.realtime's types).
void realtimeEvents;
const text = await format(JSON.stringify(document()), { ...(await resolveConfig(file)), parser: 'json' });
writeOrCheck(file, text);
