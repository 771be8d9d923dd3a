import type { Admin } from 'kafkajs';

/**
 * Every consumer group of a suite (its topic prefix) and how many events it has yet to commit,
 * summed over its partitions. A group that has not committed on a partition counts all of it.
 * `liveOnly`: groups that are not empty (a suite kept between runs has its earlier processes' groups);
 * a group in the middle of a rebalance counts, whatever members it lists at that moment.
 */
export async function consumerLag(
  admin: Admin,
  prefix: string,
  { liveOnly = false }: { liveOnly?: boolean } = {},
): Promise<Map<string, number>> {
  let groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((id) => id.startsWith(prefix));
  if (liveOnly && groups.length > 0) {
    const described = await admin.describeGroups(groups);
    const live = new Set(
      described.groups.filter((g) => g.state !== 'Empty' && g.state !== 'Dead').map((g) => g.groupId),
    );
    groups = groups.filter((id) => live.has(id));
  }
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
