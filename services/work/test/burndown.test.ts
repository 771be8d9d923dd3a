import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  burndown,
  eventsOfTask,
  scopeChange,
  type HistoryEvent,
  type TaskState,
} from '../src/sprints/burndown.ts';

const S = 'sprint-1';
const at = (iso: string) => new Date(iso);
const created = (taskId: string, iso: string, state: Partial<TaskState>): HistoryEvent => ({
  taskId,
  at: at(iso),
  field: 'created',
  state: { sprintId: S, status: 'TODO', estimate: null, deleted: false, ...state },
});
const change = (
  taskId: string,
  iso: string,
  field: 'sprintId' | 'status' | 'estimate' | 'deleted',
  to: unknown,
) => ({ taskId, at: at(iso), field, to }) as HistoryEvent;

// A 5-day sprint (Jan 1–5 2030) started Jan 1 09:00, completed Jan 5 10:00.
// Before start: A (3), B (5), C (2) in the sprint → committed 10; Z (7) in the backlog.
// Jan 1 15:00 A DONE                                → end of day 1: B 5 + C 2          = 7
// Jan 2 10:00 D created in the sprint with 4 (added) → end of day 2: B 5 + C 2 + D 4    = 11
// Jan 3 11:00 C moved to the backlog (removed 2)
// Jan 3 12:00 B re-estimated 5 → 8                  → end of day 3: B 8 + D 4          = 12
// Jan 4 08:00 Z moved into the sprint (added 7)
// Jan 4 16:00 B DONE; Jan 4 17:00 Z DONE            → end of day 4: D 4                = 4
// Jan 5 10:00 completion moves D out (not scope: at the completion instant) → day 5 frozen at 4
// Ideal: 10 over 5 days → 10, 7.5, 5, 2.5, 0.
const events: HistoryEvent[] = [
  created('A', '2029-12-30T10:00:00Z', { estimate: 3 }),
  created('B', '2029-12-30T10:01:00Z', { estimate: 5 }),
  created('C', '2029-12-30T10:02:00Z', { estimate: 2 }),
  created('Z', '2029-12-30T10:03:00Z', { estimate: 7, sprintId: null }),
  change('A', '2030-01-01T15:00:00Z', 'status', 'DONE'),
  created('D', '2030-01-02T10:00:00Z', { estimate: 4 }),
  change('C', '2030-01-03T11:00:00Z', 'sprintId', null),
  change('B', '2030-01-03T12:00:00Z', 'estimate', 8),
  change('Z', '2030-01-04T08:00:00Z', 'sprintId', S),
  change('B', '2030-01-04T16:00:00Z', 'status', 'DONE'),
  change('Z', '2030-01-04T17:00:00Z', 'status', 'DONE'),
  change('D', '2030-01-05T10:00:00Z', 'sprintId', 'sprint-2'),
];
const startedAt = at('2030-01-01T09:00:00Z');
const completedAt = at('2030-01-05T10:00:00Z');

test('burndown: one entry a day, remaining from history, ideal linear to 0', () => {
  const entries = burndown({
    events,
    sprintId: S,
    startDate: '2030-01-01',
    endDate: '2030-01-05',
    today: '2030-02-01',
    committedPoints: 10,
    frozenAt: completedAt,
  });
  assert.deepEqual(entries, [
    { date: '2030-01-01', remainingPoints: 7, idealPoints: 10 },
    { date: '2030-01-02', remainingPoints: 11, idealPoints: 7.5 },
    { date: '2030-01-03', remainingPoints: 12, idealPoints: 5 },
    { date: '2030-01-04', remainingPoints: 4, idealPoints: 2.5 },
    { date: '2030-01-05', remainingPoints: 4, idealPoints: 0 },
  ]);
});

test('burndown stops at today while the sprint runs; events are order-independent', () => {
  const entries = burndown({
    events: [...events].reverse(),
    sprintId: S,
    startDate: '2030-01-01',
    endDate: '2030-01-05',
    today: '2030-01-02',
    committedPoints: 10,
  });
  assert.deepEqual(
    entries.map((e) => [e.date, e.remainingPoints]),
    [
      ['2030-01-01', 7],
      ['2030-01-02', 11],
    ],
  );
  // Without a freeze the carry-over at completion empties day 5.
  const all = burndown({
    events,
    sprintId: S,
    startDate: '2030-01-01',
    endDate: '2030-01-05',
    today: '2030-01-05',
    committedPoints: 10,
  });
  assert.equal(all.at(-1)?.remainingPoints, 0);
});

test('scope: added = D 4 + Z 7, removed = C 2; the completion move is not scope', () => {
  assert.deepEqual(scopeChange(events, S, startedAt, completedAt), { addedPoints: 11, removedPoints: 2 });
  // Still running (no completion): D leaving at Jan 5 10:00 counts as removed (its estimate 4).
  assert.deepEqual(scopeChange(events, S, startedAt, null), { addedPoints: 11, removedPoints: 6 });
});

test('a one-day sprint has ideal 0; a sprint not yet begun has no entries', () => {
  const one = burndown({
    events,
    sprintId: S,
    startDate: '2030-01-01',
    endDate: '2030-01-01',
    today: '2030-01-09',
    committedPoints: 10,
  });
  assert.deepEqual(one, [{ date: '2030-01-01', remainingPoints: 7, idealPoints: 0 }]);
  assert.deepEqual(
    burndown({
      events,
      sprintId: S,
      startDate: '2030-01-01',
      endDate: '2030-01-05',
      today: '2029-12-31',
      committedPoints: 10,
    }),
    [],
  );
});

test('eventsOfTask rebuilds the initial state by undoing each change', () => {
  const rows = [
    { at: at('2030-01-01T00:00:00Z'), field: 'created', from: null, to: 'P-1' },
    { at: at('2030-01-02T00:00:00Z'), field: 'sprintId', from: null, to: S },
    { at: at('2030-01-03T00:00:00Z'), field: 'title', from: 'a', to: 'b' },
    { at: at('2030-01-03T00:00:00Z'), field: 'estimate', from: 1, to: 3 },
    { at: at('2030-01-04T00:00:00Z'), field: 'status', from: 'TODO', to: 'DONE' },
  ];
  const result = eventsOfTask(
    {
      id: 'T',
      createdAt: at('2030-01-01T00:00:00Z'),
      deletedAt: at('2030-01-06T00:00:00Z'),
      current: { sprintId: S, status: 'DONE', estimate: 3 },
    },
    rows,
  );
  assert.deepEqual(result[0], {
    taskId: 'T',
    at: at('2030-01-01T00:00:00Z'),
    field: 'created',
    state: { sprintId: null, status: 'TODO', estimate: 1, deleted: false },
  });
  assert.deepEqual(
    result.slice(1).map((e) => (e.field === 'created' ? e.field : [e.field, e.to])),
    [
      ['sprintId', S],
      ['estimate', 3],
      ['status', 'DONE'],
      // Deleted without a history entry (with its parent): a deletion at deletedAt.
      ['deleted', true],
    ],
  );
});
