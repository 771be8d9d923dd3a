import { z } from 'zod';
import { isoDate, patchBody, text } from '@trellis/shared';

export const SPRINT_STATES = ['PLANNED', 'ACTIVE', 'COMPLETED'] as const;
export type SprintState = (typeof SPRINT_STATES)[number];
const state = z.enum(SPRINT_STATES);
const date = isoDate();
const name = text(200);
const goal = z.string().max(5_000);

/** A sprint spans at most a year: its report has one burndown entry per day. */
export const MAX_SPRINT_DAYS = 366;
const DAY_MS = 86_400_000;

/** What is wrong with a sprint running from `startDate` to `endDate` (both `YYYY-MM-DD`), if anything. */
export function sprintSpanProblem(startDate: string, endDate: string): string | undefined {
  if (endDate < startDate) return 'endDate must not be before startDate';
  const days = (Date.parse(endDate) - Date.parse(startDate)) / DAY_MS + 1;
  if (days > MAX_SPRINT_DAYS) return `A sprint lasts at most ${MAX_SPRINT_DAYS} days`;
  return undefined;
}

export const createSprintBody = z.object({
  name,
  goal: goal.nullable().optional(),
  startDate: date,
  endDate: date,
});
export type CreateSprintBody = z.infer<typeof createSprintBody>;

export const updateSprintBody = patchBody({
  name: name.optional(),
  goal: goal.nullable().optional(),
  startDate: date.optional(),
  endDate: date.optional(),
});
export type UpdateSprintBody = z.infer<typeof updateSprintBody>;

export const completeSprintBody = z.object({ moveOpenTasksTo: z.uuid().nullable() });
export type CompleteSprintBody = z.infer<typeof completeSprintBody>;

export const sprintIdParams = z.object({ id: z.uuid() });
export const sprintListQuery = z.object({ state: state.optional() });
export const velocityQuery = z.object({ last: z.coerce.number().int().min(1).max(50).default(5) });

export const sprintSchema = z
  .object({
    id: z.uuid(),
    orgId: z.uuid(),
    projectId: z.uuid(),
    name: z.string(),
    goal: z.string().nullable(),
    startDate: date,
    endDate: date,
    state,
    committedPoints: z.number().int().nullable(),
    completedPoints: z.number().int().nullable(),
    startedAt: z.iso.datetime().nullable(),
    completedAt: z.iso.datetime().nullable(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    version: z.number().int().min(1),
  })
  .meta({ id: 'Sprint' });
export type SprintView = z.infer<typeof sprintSchema>;
export const sprintListSchema = z.object({ items: z.array(sprintSchema), nextCursor: z.string().nullable() });

export const reportSchema = z
  .object({
    committedPoints: z.number().int(),
    completedPoints: z.number().int(),
    addedPoints: z.number().int(),
    removedPoints: z.number().int(),
    burndown: z.array(z.object({ date, remainingPoints: z.number(), idealPoints: z.number() })),
  })
  .meta({ id: 'SprintReport' });
export type SprintReport = z.infer<typeof reportSchema>;

export const velocitySchema = z
  .object({
    sprints: z.array(
      z.object({
        id: z.uuid(),
        name: z.string(),
        committedPoints: z.number().int(),
        completedPoints: z.number().int(),
      }),
    ),
    averageCompleted: z.number(),
  })
  .meta({ id: 'Velocity' });
export type Velocity = z.infer<typeof velocitySchema>;

export const OPEN_STATUSES = ['TODO', 'IN_PROGRESS', 'IN_REVIEW', 'BLOCKED'] as const;
export const workloadSchema = z.array(
  z.object({
    assigneeId: z.uuid().nullable(),
    openTasks: z.number().int(),
    openPoints: z.number().int(),
    byStatus: z.record(z.enum(OPEN_STATUSES), z.number().int()),
  }),
);
export type Workload = z.infer<typeof workloadSchema>;
