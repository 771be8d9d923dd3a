import { Kafka, logLevel } from 'kafkajs';

/** `uniqueName` puts its creation time (base 36) after the label: `t_<label>_<time>_<hex>.<topic>`. */
const TEST_TOPIC = /^t_[a-z0-9_]*?_([0-9a-z]+)_[0-9a-f]{6}\./;
/** Topics deleted per request. */
const CHUNK = 500;

/**
 * Deletes the topics earlier test runs left (every test prefixes its topics with a unique name),
 * once they are older than `olderThanMs`, so a run still going beside this one keeps its own.
 * Without this a long-lived local broker gathers thousands of partitions, each holding open
 * files, until it runs out of descriptors and stops. Returns how many were deleted.
 */
export async function deleteStaleTestTopics(
  brokers: string[],
  options: { olderThanMs: number; now?: number; onProgress?: (deleted: number, total: number) => void },
): Promise<number> {
  const cutoff = (options.now ?? Date.now()) - options.olderThanMs;
  return deleteTopicsWhere(
    brokers,
    (topic) => {
      const created = TEST_TOPIC.exec(topic)?.[1];
      return created !== undefined && parseInt(created, 36) < cutoff;
    },
    options.onProgress,
  );
}

/**
 * Deletes every topic named with `prefix` (one test run's or suite's own, when it is done with
 * them): a long-lived broker would otherwise carry them, and its heap and pauses grow with its
 * partition count. Returns how many were deleted.
 */
export async function deleteTopicsWithPrefix(brokers: string[], prefix: string): Promise<number> {
  if (!prefix) throw new Error('a topic prefix is required'); // never every topic on the broker
  return deleteTopicsWhere(brokers, (topic) => topic.startsWith(prefix));
}

/** Deletes the broker's topics `chosen` picks, `CHUNK` per request; returns how many. */
async function deleteTopicsWhere(
  brokers: string[],
  chosen: (topic: string) => boolean,
  onProgress?: (deleted: number, total: number) => void,
): Promise<number> {
  const admin = new Kafka({ clientId: 'test-topic-cleanup', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter(chosen);
    for (let from = 0; from < topics.length; from += CHUNK) {
      await admin.deleteTopics({ topics: topics.slice(from, from + CHUNK), timeout: 60_000 });
      onProgress?.(Math.min(from + CHUNK, topics.length), topics.length);
    }
    return topics.length;
  } finally {
    await admin.disconnect();
  }
}
