// Sprint report arithmetic (product.md §8), pure: no clock, no database. The service feeds it the
// task history (task_history rows turned into events) and the sprint's dates.

export interface TaskState {
  sprintId: string | null;
  status: string;
  estimate: number | null;
  deleted: boolean;
}

export type TrackedField = 'sprintId' | 'status' | 'estimate' | 'deleted';

/** A task's life: its creation with its initial state, then one event per change of a tracked field. */
export type HistoryEvent =
  | { taskId: string; at: Date; field: 'created'; state: TaskState }
  | { taskId: string; at: Date; field: TrackedField; to: unknown };

export interface BurndownEntry {
  date: string;
  remainingPoints: number;
  idealPoints: number;
}

const DAY = 86_400_000;
const TRACKED = new Set<string>(['sprintId', 'status', 'estimate', 'deleted']);

/** Oldest first; events of the same instant (one transaction) keep their given order. */
function ordered(events: HistoryEvent[]): HistoryEvent[] {
  return events
    .map((event, i) => ({ event, i }))
    .sort((a, b) => a.event.at.getTime() - b.event.at.getTime() || a.i - b.i)
    .map((e) => e.event);
}

function apply(states: Map<string, TaskState>, event: HistoryEvent): void {
  if (event.field === 'created') {
    states.set(event.taskId, { ...event.state });
    return;
  }
  const state = states.get(event.taskId);
  if (!state) return;
  if (event.field === 'sprintId') state.sprintId = (event.to as string | null) ?? null;
  else if (event.field === 'status') state.status = String(event.to);
  else if (event.field === 'estimate') state.estimate = (event.to as number | null) ?? null;
  else state.deleted = Boolean(event.to);
}

const inSprint = (state: TaskState | undefined, sprintId: string) =>
  state !== undefined && !state.deleted && state.sprintId === sprintId;

/** Every task's state just before `until` (events at `until` or later are not applied). */
export function statesBefore(events: HistoryEvent[], until: Date): Map<string, TaskState> {
  const states = new Map<string, TaskState>();
  for (const event of ordered(events)) {
    if (event.at.getTime() >= until.getTime()) break;
    apply(states, event);
  }
  return states;
}

/** Points of the sprint's tasks that are not DONE just before `until` (no estimate counts 0). */
export function remainingBefore(events: HistoryEvent[], sprintId: string, until: Date): number {
  let points = 0;
  for (const state of statesBefore(events, until).values())
    if (inSprint(state, sprintId) && state.status !== 'DONE') points += state.estimate ?? 0;
  return points;
}

/**
 * Scope change strictly inside (after, before): a task entering the sprint (moved in, or created in
 * it) adds its estimate at that moment; one leaving (moved out, or deleted) removes it.
 */
export function scopeChange(
  events: HistoryEvent[],
  sprintId: string,
  after: Date,
  before: Date | null,
): { addedPoints: number; removedPoints: number } {
  const states = new Map<string, TaskState>();
  let addedPoints = 0;
  let removedPoints = 0;
  for (const event of ordered(events)) {
    const t = event.at.getTime();
    if (before && t >= before.getTime()) break;
    const prev = states.get(event.taskId);
    const wasIn = inSprint(prev, sprintId);
    const prevEstimate = prev?.estimate ?? 0;
    apply(states, event);
    if (t <= after.getTime()) continue;
    const next = states.get(event.taskId);
    const isIn = inSprint(next, sprintId);
    if (!wasIn && isIn) addedPoints += next?.estimate ?? 0;
    else if (wasIn && !isIn) removedPoints += prevEstimate;
  }
  return { addedPoints, removedPoints };
}

const dayMs = (date: string) => Date.parse(`${date}T00:00:00Z`);
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const round2 = (n: number) => Math.round(n * 100) / 100;

/**
 * One entry per day (UTC) from `startDate` to `endDate`, or to `today` when earlier. remaining = the
 * sprint's not-DONE points at the end of that day (before `frozenAt`, the completion, if given, so
 * the carry-over at completion does not count as burnt); ideal = `committedPoints` falling linearly
 * from the first day's entry to 0 on the last day (an n-day sprint loses committed/(n-1) a day).
 */
export function burndown(input: {
  events: HistoryEvent[];
  sprintId: string;
  startDate: string;
  endDate: string;
  today: string;
  committedPoints: number;
  frozenAt?: Date | null;
}): BurndownEntry[] {
  const start = dayMs(input.startDate);
  const end = dayMs(input.endDate);
  const last = Math.min(end, dayMs(input.today));
  const days = Math.round((end - start) / DAY) + 1;
  const entries: BurndownEntry[] = [];
  for (let day = start, i = 0; day <= last; day += DAY, i += 1) {
    let until = day + DAY;
    if (input.frozenAt) until = Math.min(until, input.frozenAt.getTime());
    entries.push({
      date: isoDay(day),
      remainingPoints: remainingBefore(input.events, input.sprintId, new Date(until)),
      idealPoints: days <= 1 ? 0 : round2((input.committedPoints * (days - 1 - i)) / (days - 1)),
    });
  }
  return entries;
}

/**
 * Turns a task's current state and its task_history rows (oldest first) into events: the initial
 * state is the current one with every tracked change undone (each change's `from`); a deletion the
 * history does not show (a subtask deleted with its parent) becomes an event at `deletedAt`.
 */
export function eventsOfTask(
  task: { id: string; createdAt: Date; deletedAt: Date | null; current: Omit<TaskState, 'deleted'> },
  rows: { at: Date; field: string; from: unknown; to: unknown }[],
): HistoryEvent[] {
  const initial: TaskState = { ...task.current, deleted: task.deletedAt !== null };
  const changes = rows.filter((r) => TRACKED.has(r.field));
  for (const row of [...changes].reverse()) {
    if (row.field === 'sprintId') initial.sprintId = (row.from as string | null) ?? null;
    else if (row.field === 'status') initial.status = String(row.from);
    else if (row.field === 'estimate') initial.estimate = (row.from as number | null) ?? null;
    else initial.deleted = Boolean(row.from);
  }
  const events: HistoryEvent[] = [];
  let unexplainedDeletion = false;
  if (initial.deleted) {
    initial.deleted = false;
    unexplainedDeletion = true;
  }
  const createdAt = rows.find((r) => r.field === 'created')?.at ?? task.createdAt;
  events.push({ taskId: task.id, at: createdAt, field: 'created', state: initial });
  for (const row of changes)
    events.push({ taskId: task.id, at: row.at, field: row.field as TrackedField, to: row.to });
  if (unexplainedDeletion && task.deletedAt)
    events.push({ taskId: task.id, at: task.deletedAt, field: 'deleted', to: true });
  return events;
}
