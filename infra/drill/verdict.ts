// The verdict of a drill under load: every acknowledged write still there, its notification in the
// inbox and on the live feed exactly once, none for a write that failed.
import { waitFor } from '@trellis/shared/testing';
import { say } from '../local/log.ts';
import { inboxAssignments, type LiveFeed, type World, type Writer } from './probes.ts';

export interface Outcome {
  lost: number;
  duplicated: number;
}

/**
 * After the fault: every acknowledged write is still there; its notification reached the inbox and
 * the live feed exactly once (waiting up to 30 s for stragglers); none arrived for a failed write.
 */
export async function verdict(w: World, writers: Writer[], feed: LiveFeed): Promise<Outcome> {
  const acknowledged = writers.flatMap((writer) => [...writer.acknowledged.values()]);
  const reusedKeys = writers.reduce((sum, writer) => sum + writer.reusedKeys, 0);
  const ids = new Set(acknowledged.map((c) => c.id));
  let missingWrites = 0;
  for (const created of acknowledged) {
    const res = await w.api.get(`/tasks/${created.id}`, w.owner.token);
    if (res.status !== 200) missingWrites += 1;
  }
  const inbox = await waitFor(
    async () => {
      const counts = await inboxAssignments(w);
      return acknowledged.every((c) => counts.has(c.id)) ? counts : undefined;
    },
    { what: 'every notification', timeoutMs: 30_000, intervalMs: 1_000 },
  ).catch(() => inboxAssignments(w));
  await waitFor(() => acknowledged.every((c) => feed.counts.has(c.key)), {
    what: 'every live event',
    timeoutMs: 10_000,
    intervalMs: 250,
  }).catch(() => undefined);
  const missingInbox = acknowledged.filter((c) => !inbox.has(c.id)).length;
  const duplicateInbox = [...inbox.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0);
  // A notification for a task that was not acknowledged is fine if the task exists (its answer was
  // lost on the way); for one that does not, an event left for a write that never committed.
  let phantoms = 0;
  for (const id of [...inbox.keys()].filter((id) => !ids.has(id)))
    if ((await w.api.get(`/tasks/${id}`, w.owner.token)).status !== 200) phantoms += 1;
  const missingFeed = acknowledged.filter((c) => !feed.counts.has(c.key)).length;
  const duplicateFeed = [...feed.counts.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0);
  say(`  writes:        ${acknowledged.length} acknowledged, ${missingWrites} missing afterwards`);
  say(
    `  inbox:         ${inbox.size} task.assigned, ${missingInbox} missing, ${duplicateInbox} duplicated, ${phantoms} for a task that does not exist`,
  );
  say(
    `  live feed:     ${feed.counts.size} notification.created, ${missingFeed} missing, ${duplicateFeed} duplicated, ${feed.resets} resets`,
  );
  if (reusedKeys > 0) say(`  task keys:     ${reusedKeys} given twice`);
  const failures = writers.flatMap((writer) => [...writer.failures].map(([what, n]) => `${what} ×${n}`));
  if (failures.length > 0) say(`  failures:      ${failures.join(', ')}`);
  return {
    lost: missingWrites + missingInbox + missingFeed + phantoms,
    duplicated: duplicateInbox + duplicateFeed,
  };
}
