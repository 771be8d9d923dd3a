import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import type { EventEnvelope } from '@trellis/shared';
import { channelDeliveries, parseChannel } from '../src/realtime/channels.ts';
import { channelsOfPath } from '../src/realtime/upgrade.ts';

const orgId = randomUUID();
const projectId = randomUUID();
const taskId = randomUUID();
const channelId = randomUUID();

/** An envelope as the bus hands it over (data already validated); the mapping reads only ids. */
function envelope(type: string, data: Record<string, unknown>): EventEnvelope {
  return {
    id: randomUUID(),
    type,
    version: 1,
    source: 'test',
    occurredAt: '2026-03-01T10:00:00.000Z',
    orgId,
    actorId: randomUUID(),
    subjectId: randomUUID(),
    correlationId: null,
    data,
  };
}

/** channel → client type, for one event. */
function routes(type: string, data: Record<string, unknown>): Array<[string, string]> {
  return channelDeliveries(envelope(type, data)).map((d) => [d.channel, d.event.type]);
}

describe('realtime channel mapping', () => {
  test('task and comment events go to their project and their task', () => {
    const data = { orgId, projectId, taskId, subtaskIds: [] };
    for (const type of [
      'task.created',
      'task.updated',
      'task.deleted',
      'task.restored',
      'comment.created',
      'comment.updated',
      'comment.deleted',
    ]) {
      assert.deepEqual(
        routes(type, data),
        [
          [`project:${projectId}`, type],
          [`task:${taskId}`, type],
        ],
        type,
      );
    }
  });

  test('a task deletion also reaches the channels of the subtasks it takes along', () => {
    const [first, second] = [randomUUID(), randomUUID()];
    assert.deepEqual(routes('task.deleted', { orgId, projectId, taskId, subtaskIds: [first, second] }), [
      [`project:${projectId}`, 'task.deleted'],
      [`task:${taskId}`, 'task.deleted'],
      [`task:${first}`, 'task.deleted'],
      [`task:${second}`, 'task.deleted'],
    ]);
  });

  test('sprint and project events go to the project; project membership is renamed', () => {
    const data = { orgId, projectId, userId: randomUUID() };
    assert.deepEqual(routes('sprint.started', data), [[`project:${projectId}`, 'sprint.started']]);
    assert.deepEqual(routes('sprint.completed', data), [[`project:${projectId}`, 'sprint.completed']]);
    assert.deepEqual(routes('project.updated', data), [[`project:${projectId}`, 'project.updated']]);
    assert.deepEqual(routes('project.memberAdded', data), [[`project:${projectId}`, 'member.added']]);
    assert.deepEqual(routes('project.memberRemoved', data), [[`project:${projectId}`, 'member.removed']]);
  });

  test('org-wide events go to the org channel', () => {
    const data = { orgId, projectId, userId: randomUUID(), teamId: randomUUID() };
    for (const type of ['member.added', 'member.removed', 'team.created', 'announcement.posted']) {
      assert.deepEqual(routes(type, data), [[`org:${orgId}`, type]], type);
    }
  });

  test('projects are announced on the org channel by the store-backed announcements, not here', () => {
    const project = { orgId, projectId, teamId: null, visibility: 'ORG', status: 'ACTIVE' };
    assert.deepEqual(routes('project.created', project), []);
    assert.deepEqual(routes('project.updated', project), [[`project:${projectId}`, 'project.updated']]);
  });

  test('chat messages go to their chat channel', () => {
    for (const type of ['message.created', 'message.updated', 'message.deleted']) {
      assert.deepEqual(routes(type, { orgId, channelId }), [[`chat:${channelId}`, type]], type);
    }
  });

  test('other types reach no channel', () => {
    for (const type of [
      'project.deleted',
      'sprint.created',
      'member.roleChanged',
      'channel.created',
      'x.y',
    ]) {
      assert.deepEqual(routes(type, { orgId, projectId, taskId, channelId }), [], type);
    }
  });

  test('the client event is the envelope id, type, time, actor and data', () => {
    const event = envelope('task.updated', {
      orgId,
      projectId,
      taskId,
      title: 'Ship it',
      changes: { status: { from: 'TODO', to: 'DONE' } },
    });
    const [delivery] = channelDeliveries(event);
    assert.deepEqual(delivery?.event, {
      id: event.id,
      type: 'task.updated',
      occurredAt: event.occurredAt,
      actorId: event.actorId,
      data: event.data,
    });
  });

  test('channel names: five kinds, lowercase UUIDs', () => {
    const id = randomUUID();
    for (const kind of ['project', 'task', 'org', 'chat', 'user'] as const) {
      assert.deepEqual(parseChannel(`${kind}:${id}`), { kind, id });
    }
    for (const bad of [`team:${id}`, `project:${id.toUpperCase()}`, 'project:123', `project${id}`, '', ':']) {
      assert.equal(parseChannel(bad), undefined, bad);
    }
  });

  test('WebSocket paths: /ws, the inbox alias and the project alias', () => {
    assert.deepEqual(channelsOfPath('/ws'), []);
    assert.deepEqual(channelsOfPath('/ws/notifications'), []);
    assert.deepEqual(channelsOfPath(`/ws/projects/${projectId}`), [`project:${projectId}`]);
    for (const bad of ['/', '/ws/', '/ws/projects/nope', `/ws/projects/${projectId}/x`, '/wss', '/api/ws']) {
      assert.equal(channelsOfPath(bad), undefined, bad);
    }
  });
});
