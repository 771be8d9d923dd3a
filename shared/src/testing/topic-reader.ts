import { Kafka, logLevel, type Consumer, type KafkaMessage } from 'kafkajs';
import type { EventEnvelope } from '../events/envelope.ts';
import { waitFor, type TestKafka } from './stack.ts';

export interface ReadMessage {
  topic: string;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

/**
 * Reads raw messages from topics, from the beginning, so a test can assert on what actually
 * reached Kafka (DLQ contents, duplicates) independently of the consumer under test.
 */
export class TopicReader {
  readonly messages: ReadMessage[] = [];
  private readonly consumer: Consumer;

  private constructor(consumer: Consumer) {
    this.consumer = consumer;
  }

  static async start(kafka: TestKafka, topics: string[]): Promise<TopicReader> {
    const client = new Kafka({
      clientId: 'topic-reader',
      brokers: kafka.brokers,
      logLevel: logLevel.NOTHING,
    });
    const consumer = client.consumer({
      groupId: kafka.topicPrefix + kafka.groupId('reader'),
      maxWaitTimeInMs: 100,
    });
    const reader = new TopicReader(consumer);
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.connect();
    await consumer.subscribe({ topics: topics.map((t) => kafka.topicPrefix + t), fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        reader.messages.push(toRead(topic.slice(kafka.topicPrefix.length), message));
      },
    });
    await joined;
    return reader;
  }

  on(topic: string): ReadMessage[] {
    return this.messages.filter((m) => m.topic === topic);
  }

  stop(): Promise<void> {
    return this.consumer.disconnect();
  }
}

function toRead(topic: string, message: KafkaMessage): ReadMessage {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) headers[name] = first.toString();
  }
  return { topic, key: message.key?.toString() ?? null, value: message.value?.toString() ?? null, headers };
}

/** The envelopes read from a topic, parsed. */
export function envelopes(reader: TopicReader, topic: string): EventEnvelope[] {
  return reader.on(topic).map((m) => JSON.parse(m.value ?? 'null') as EventEnvelope);
}

/** Waits for an event on `topic` matching `predicate`. */
export function waitForEvent(
  reader: TopicReader,
  topic: string,
  predicate: (event: EventEnvelope) => boolean,
  what = `event on ${topic}`,
): Promise<EventEnvelope> {
  return waitFor(() => envelopes(reader, topic).find(predicate), { what });
}

/**
 * How many messages the deployment's topic holds so far (its partitions' end offsets, summed), to
 * assert that something was, or was not, published.
 */
export async function topicMessageCount(kafka: TestKafka, topic: string): Promise<number> {
  const admin = new Kafka({
    clientId: 'topic-count',
    brokers: kafka.brokers,
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(kafka.topicPrefix + topic);
    return offsets.reduce((sum, { high }) => sum + Number(high), 0);
  } finally {
    await admin.disconnect();
  }
}
