// CPU time of processes, from Linux's /proc: what a benchmark counts per request or per event.
import { readFileSync, readdirSync } from 'node:fs';

/** Milliseconds per clock tick (USER_HZ is 100 on Linux). */
export const TICK_MS = 10;

/**
 * Clock ticks (user + system) of each process and every live descendant (PostgreSQL's backends),
 * from one reading of /proc.
 */
export function treeTicks(roots: number[]): number[] {
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const text = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      stats.set(Number(entry), { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // Gone meanwhile.
    }
  }
  const children = new Map<number, number[]>();
  for (const [pid, { ppid }] of stats) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  return roots.map((root) => {
    let total = 0;
    const queue = [root];
    while (queue.length > 0) {
      const pid = queue.pop()!;
      total += stats.get(pid)?.ticks ?? 0;
      queue.push(...(children.get(pid) ?? []));
    }
    return total;
  });
}

/** CPU milliseconds of processes (and their descendants) spent while `work` ran. */
export async function cpuDuring<T>(
  pids: number[],
  work: () => Promise<T>,
): Promise<{ result: T; ms: number[] }> {
  const before = treeTicks(pids);
  const result = await work();
  const after = treeTicks(pids);
  return { result, ms: pids.map((_, i) => (after[i]! - before[i]!) * TICK_MS) };
}
