import { randomUUID } from 'node:crypto';

/**
 * The data of a `task.created` (or `task.updated`'s task) for tests that publish work's events
 * themselves: the identifying fields given, a new `taskId` unless given, everything else a plain
 * TODO task nobody is assigned to.
 */
export function taskEventData(fields: {
  taskId?: string;
  orgId: string;
  projectId: string;
  key: string;
  number: number;
  title: string;
  reporterId: string;
}) {
  return {
    taskId: fields.taskId ?? randomUUID(),
    orgId: fields.orgId,
    projectId: fields.projectId,
    key: fields.key,
    number: fields.number,
    parentId: null,
    title: fields.title,
    status: 'TODO' as const,
    priority: 'MEDIUM' as const,
    type: 'TASK' as const,
    assigneeId: null as string | null,
    reporterId: fields.reporterId,
    sprintId: null,
    estimate: null,
    labels: [] as string[],
    dueDate: null,
    completedAt: null,
    version: 1,
  };
}
