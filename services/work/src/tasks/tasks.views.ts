import type { TaskRow } from '../models.ts';
import type { TaskView } from './tasks.schemas.ts';

export function toTaskView(t: TaskRow): TaskView {
  return {
    id: t.id,
    key: t.key,
    number: t.number,
    orgId: t.orgId,
    projectId: t.projectId,
    parentId: t.parentId,
    title: t.title,
    description: t.description,
    status: t.status as TaskView['status'],
    priority: t.priority as TaskView['priority'],
    type: t.type as TaskView['type'],
    assigneeId: t.assigneeId,
    reporterId: t.reporterId,
    sprintId: t.sprintId,
    estimate: t.estimate,
    labels: t.labels,
    startDate: t.startDate,
    dueDate: t.dueDate,
    completedAt: t.completedAt ? t.completedAt.toISOString() : null,
    createdAt: t.createdAt.toISOString(),
    updatedAt: t.updatedAt.toISOString(),
    version: t.version,
  };
}

/** The task as `task.created`, `task.updated` and `task.restored` carry it. */
export function taskData(t: TaskRow) {
  const v = toTaskView(t);
  return {
    taskId: v.id,
    orgId: v.orgId,
    projectId: v.projectId,
    key: v.key,
    number: v.number,
    parentId: v.parentId,
    title: v.title,
    status: v.status,
    priority: v.priority,
    type: v.type,
    assigneeId: v.assigneeId,
    reporterId: v.reporterId,
    sprintId: v.sprintId,
    estimate: v.estimate,
    labels: v.labels,
    dueDate: v.dueDate,
    completedAt: v.completedAt,
    version: v.version,
  };
}
