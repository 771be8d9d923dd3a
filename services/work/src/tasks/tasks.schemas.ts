import { z } from 'zod';
import { commaList, isoDate, isoDateTime, limitSchema, patchBody, text } from '@trellis/shared';

export const TASK_STATUSES = ['TODO', 'IN_PROGRESS', 'IN_REVIEW', 'BLOCKED', 'DONE'] as const;
const status = z.enum(TASK_STATUSES);
const priority = z.enum(['LOW', 'MEDIUM', 'HIGH', 'URGENT']);
const type = z.enum(['TASK', 'FEATURE', 'BUG', 'IMPROVEMENT', 'DOCUMENTATION']);
const title = text(500);
const description = z.string().max(50_000);
const labels = z.array(text(50)).max(20);
const date = isoDate();

export const createTaskBody = z.object({
  title,
  description: description.nullable().optional(),
  status: status.optional(),
  priority: priority.optional(),
  type: type.optional(),
  assigneeId: z.uuid().nullable().optional(),
  parentId: z.uuid().nullable().optional(),
  sprintId: z.uuid().nullable().optional(),
  estimate: z.number().int().min(0).max(100).nullable().optional(),
  labels: labels.optional(),
  startDate: date.nullable().optional(),
  dueDate: date.nullable().optional(),
});
export type CreateTaskBody = z.infer<typeof createTaskBody>;

export const updateTaskBody = patchBody(createTaskBody.partial().shape);
export type UpdateTaskBody = z.infer<typeof updateTaskBody>;

/** The fields a PATCH may change, in the order history records them. */
export const TASK_FIELDS = [
  'title',
  'description',
  'status',
  'priority',
  'type',
  'assigneeId',
  'parentId',
  'sprintId',
  'estimate',
  'labels',
  'startDate',
  'dueDate',
] as const;
export type TaskField = (typeof TASK_FIELDS)[number];

const uuidOrNone = z.union([z.uuid(), z.literal('none')]);

export const taskFilterShape = {
  status: commaList(TASK_STATUSES.join('|'), {
    message: `A comma-separated list of ${TASK_STATUSES.join(', ')}`,
  })
    .pipe(z.array(status).min(1))
    .optional(),
  priority: priority.optional(),
  type: type.optional(),
  assigneeId: z.union([z.uuid(), z.literal('me'), z.literal('none')]).optional(),
  label: z.string().min(1).max(50).optional(),
  sprintId: uuidOrNone.optional(),
  parentId: uuidOrNone.optional(),
  q: text(200).optional(),
  dueBefore: date.optional(),
  dueAfter: date.optional(),
  updatedSince: isoDateTime().optional(),
  sort: z
    .enum([
      'createdAt',
      '-createdAt',
      'updatedAt',
      '-updatedAt',
      'dueDate',
      '-dueDate',
      'priority',
      '-priority',
    ])
    .default('-updatedAt'),
  limit: limitSchema,
  cursor: z.string().min(1).max(500).optional(),
};
export const taskListQuery = z.object(taskFilterShape);
export type TaskListQuery = z.infer<typeof taskListQuery>;
export const crossTaskListQuery = z.object({ orgId: z.uuid(), ...taskFilterShape });
export type CrossTaskListQuery = z.infer<typeof crossTaskListQuery>;
export const lookupQuery = z.object({
  orgId: z.uuid(),
  key: z.string().regex(/^[A-Z0-9]{2,10}-[1-9][0-9]{0,9}$/, 'a task key like PROJ-12'),
});

export const taskIdParams = z.object({ id: z.uuid() });
export const pageQuery = z.object({ limit: limitSchema, cursor: z.string().min(1).max(500).optional() });

export const taskSchema = z
  .object({
    id: z.uuid(),
    key: z.string(),
    number: z.number().int(),
    orgId: z.uuid(),
    projectId: z.uuid(),
    parentId: z.uuid().nullable(),
    title: z.string(),
    description: z.string().nullable(),
    status,
    priority,
    type,
    assigneeId: z.uuid().nullable(),
    reporterId: z.uuid(),
    sprintId: z.uuid().nullable(),
    estimate: z.number().int().nullable(),
    labels: z.array(z.string()),
    startDate: z.string().nullable(),
    dueDate: z.string().nullable(),
    completedAt: z.iso.datetime().nullable(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    version: z.number().int().min(1),
  })
  .meta({ id: 'Task' });
export type TaskView = z.infer<typeof taskSchema>;
export const taskPageSchema = z.object({ items: z.array(taskSchema), nextCursor: z.string().nullable() });

export const activitySchema = z
  .object({
    id: z.string(),
    taskId: z.uuid(),
    at: z.iso.datetime(),
    actorId: z.uuid(),
    field: z.string(),
    from: z.unknown(),
    to: z.unknown(),
  })
  .meta({ id: 'TaskActivity' });
export const activityPageSchema = z.object({
  items: z.array(activitySchema),
  nextCursor: z.string().nullable(),
});
