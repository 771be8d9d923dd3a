import { z } from 'zod';
import { defineEvent } from '../registry.ts';

// work.project, work.task and work.sprint: everything work publishes.

const projectStatus = z.enum(['PLANNING', 'ACTIVE', 'ON_HOLD', 'COMPLETED', 'ARCHIVED', 'PENDING_APPROVAL']);
const projectRole = z.enum(['OWNER', 'MANAGER', 'LEAD', 'CONTRIBUTOR', 'VIEWER']);

const projectData = z.object({
  projectId: z.uuid(),
  orgId: z.uuid(),
  teamId: z.uuid().nullable(),
  name: z.string().min(1),
  key: z.string().min(1),
  status: projectStatus,
  visibility: z.enum(['ORG', 'PRIVATE']),
  ownerId: z.uuid(),
});

export const projectCreated = defineEvent({
  type: 'project.created',
  topic: 'work.project',
  version: 1,
  data: projectData,
});
/** Also published when an approved project becomes ACTIVE. */
export const projectUpdated = defineEvent({
  type: 'project.updated',
  topic: 'work.project',
  version: 1,
  data: projectData,
});
/**
 * A project created as PENDING_APPROVAL because the org requires approval for project creation;
 * governance turns it into a `project.create` approval and answers with `approval.decided`, on
 * which work activates or discards the project.
 */
export const projectApprovalRequested = defineEvent({
  type: 'project.approvalRequested',
  topic: 'work.project',
  version: 1,
  data: z.object({
    projectId: z.uuid(),
    orgId: z.uuid(),
    teamId: z.uuid().nullable(),
    name: z.string().min(1),
    key: z.string().min(1),
    requestedBy: z.uuid(),
  }),
});
export const projectDeleted = defineEvent({
  type: 'project.deleted',
  topic: 'work.project',
  version: 1,
  data: z.object({ projectId: z.uuid(), orgId: z.uuid() }),
});
export const projectRestored = defineEvent({
  type: 'project.restored',
  topic: 'work.project',
  version: 1,
  data: projectData,
});
/** The project's whole settings after the change. */
export const projectSettingsChanged = defineEvent({
  type: 'project.settingsChanged',
  topic: 'work.project',
  version: 1,
  data: z.object({ projectId: z.uuid(), orgId: z.uuid(), settings: z.record(z.string(), z.unknown()) }),
});
export const projectMemberAdded = defineEvent({
  type: 'project.memberAdded',
  topic: 'work.project',
  version: 1,
  data: z.object({ projectId: z.uuid(), orgId: z.uuid(), userId: z.uuid(), role: projectRole }),
});
export const projectMemberRoleChanged = defineEvent({
  type: 'project.memberRoleChanged',
  topic: 'work.project',
  version: 1,
  data: z.object({
    projectId: z.uuid(),
    orgId: z.uuid(),
    userId: z.uuid(),
    from: projectRole,
    to: projectRole,
  }),
});
export const projectOwnershipTransferred = defineEvent({
  type: 'project.ownershipTransferred',
  topic: 'work.project',
  version: 1,
  data: z.object({ projectId: z.uuid(), orgId: z.uuid(), fromUserId: z.uuid(), toUserId: z.uuid() }),
});
export const projectMemberRemoved = defineEvent({
  type: 'project.memberRemoved',
  topic: 'work.project',
  version: 1,
  data: z.object({ projectId: z.uuid(), orgId: z.uuid(), userId: z.uuid() }),
});

const taskData = z.object({
  taskId: z.uuid(),
  orgId: z.uuid(),
  projectId: z.uuid(),
  key: z.string().min(1),
  number: z.number().int().positive(),
  parentId: z.uuid().nullable(),
  title: z.string().min(1),
  status: z.enum(['TODO', 'IN_PROGRESS', 'IN_REVIEW', 'BLOCKED', 'DONE']),
  priority: z.enum(['LOW', 'MEDIUM', 'HIGH', 'URGENT']),
  type: z.enum(['TASK', 'FEATURE', 'BUG', 'IMPROVEMENT', 'DOCUMENTATION']),
  assigneeId: z.uuid().nullable(),
  reporterId: z.uuid(),
  sprintId: z.uuid().nullable(),
  estimate: z.number().int().nullable(),
  labels: z.array(z.string()),
  dueDate: z.string().nullable(),
  completedAt: z.iso.datetime().nullable(),
  version: z.number().int().positive(),
});

const fieldChange = z.object({ from: z.unknown(), to: z.unknown() });

export const taskCreated = defineEvent({
  type: 'task.created',
  topic: 'work.task',
  version: 1,
  data: taskData,
});
/** The task after the change, and `changes: {field: {from, to}}` of this update. */
export const taskUpdated = defineEvent({
  type: 'task.updated',
  topic: 'work.task',
  version: 1,
  data: taskData.extend({ changes: z.record(z.string(), fieldChange) }),
});
/** `subtaskIds`: the subtasks deleted with it. */
export const taskDeleted = defineEvent({
  type: 'task.deleted',
  topic: 'work.task',
  version: 1,
  data: z.object({
    taskId: z.uuid(),
    orgId: z.uuid(),
    projectId: z.uuid(),
    key: z.string(),
    subtaskIds: z.array(z.uuid()),
  }),
});
export const taskRestored = defineEvent({
  type: 'task.restored',
  topic: 'work.task',
  version: 1,
  data: taskData,
});

// work.sprint: PLANNED → ACTIVE → COMPLETED (product.md §8). Envelopes carry orgId and actorId.

const sprintData = z.object({
  sprintId: z.uuid(),
  orgId: z.uuid(),
  projectId: z.uuid(),
  name: z.string().min(1),
  goal: z.string().nullable(),
  startDate: z.iso.date(),
  endDate: z.iso.date(),
  state: z.enum(['PLANNED', 'ACTIVE', 'COMPLETED']),
});

export const sprintCreated = defineEvent({
  type: 'sprint.created',
  topic: 'work.sprint',
  version: 1,
  data: sprintData,
});
/** The sprint after the change (name, goal, dates; only while PLANNED). */
export const sprintUpdated = defineEvent({
  type: 'sprint.updated',
  topic: 'work.sprint',
  version: 1,
  data: sprintData,
});
/** `committedPoints` and `taskIds`: the sprint's scope at start. */
export const sprintStarted = defineEvent({
  type: 'sprint.started',
  topic: 'work.sprint',
  version: 1,
  data: sprintData.extend({ committedPoints: z.number().int(), taskIds: z.array(z.uuid()) }),
});
/** `movedTaskIds`: the open tasks carried over to `movedTo` (a PLANNED sprint, or null = backlog). */
export const sprintCompleted = defineEvent({
  type: 'sprint.completed',
  topic: 'work.sprint',
  version: 1,
  data: sprintData.extend({
    committedPoints: z.number().int(),
    completedPoints: z.number().int(),
    movedTo: z.uuid().nullable(),
    movedTaskIds: z.array(z.uuid()),
  }),
});
/** `movedTaskIds`: its tasks, now back in the backlog. */
export const sprintDeleted = defineEvent({
  type: 'sprint.deleted',
  topic: 'work.sprint',
  version: 1,
  data: z.object({
    sprintId: z.uuid(),
    orgId: z.uuid(),
    projectId: z.uuid(),
    movedTaskIds: z.array(z.uuid()),
  }),
});
