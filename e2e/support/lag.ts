import type { Admin } from 'kafkajs';

/**
 * Every consumer group of a suite (its topic prefix) and how many events it has yet to commit,
 * summed over its partitions. A group that has not committed on a partition counts all of it.
 */
export async function consumerLag(admin: Admin, prefix: string): Promise<Map<string, number>> {
  const groups = (await admin.listGroups()).groups
    .map((g) => g.groupId)
    .filter((id) => id.startsWith(prefix));
  const lags = new Map<string, number>();
  const ends = new Map<string, Map<number, number>>();
  for (const groupId of groups) {
    const offsets = await admin.fetchOffsets({ groupId });
    let lag = 0;
    let mine = false;
    for (const { topic, partitions } of offsets) {
      if (!topic.startsWith(prefix)) continue;
      mine = true;
      if (!ends.has(topic))
        ends.set(
          topic,
          new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.offset)])),
        );
      for (const p of partitions) {
        const end = ends.get(topic)?.get(p.partition) ?? 0;
        const at = Number(p.offset);
        lag += at < 0 ? end : Math.max(0, end - at);
      }
    }
    if (mine) lags.set(groupId, lag);
  }
  return lags;
}
