import { isDuplicateKeyError, workEvents, type EventEnvelope } from '@trellis/shared';
import { Schema, type Connection, type Model } from 'mongoose';
import type { z } from 'zod';
import { channelName, type ChannelDelivery } from './channels.ts';

type ProjectData = z.infer<typeof workEvents.projectCreated.data>;

/** Per project, the event that announced it on its org's channel. */
interface Announcement {
  _id: string;
  eventId: string;
}

const announcementSchema = new Schema<Announcement>(
  { _id: { type: String, required: true }, eventId: { type: String, required: true } },
  { collection: 'realtime_announced_projects', versionKey: false },
);

/** The project events that may announce a project. */
export const ANNOUNCING_EVENTS = [workEvents.projectCreated, workEvents.projectUpdated];
const ANNOUNCING_TYPES = new Set(ANNOUNCING_EVENTS.map(({ type }) => type));

/** Everyone in the org can see it (product.md §2, §5): not PRIVATE, not waiting for approval. */
const orgWide = (d: ProjectData) => d.visibility === 'ORG' && d.status !== 'PENDING_APPROVAL';

/**
 * A project is announced on `org:<orgId>` as `project.created` (api.md §9) once: on the first event
 * that shows it to the whole org. That is its `project.created`, or the `project.updated` that
 * approves it or turns it from PRIVATE to ORG. The announcing event's id is kept per project, so a
 * redelivery of that event announces again (the history gives it the seq it already has) and every
 * later update is passed over. The store is asked only about org-wide projects' events.
 */
export class ProjectAnnouncements {
  private readonly model: Model<Announcement>;
  /** The lookups, one after another: announcements on a channel keep the order of their events. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(model: Model<Announcement>) {
    this.model = model;
  }

  static async create(connection: Connection): Promise<ProjectAnnouncements> {
    const model = (connection.models.RealtimeAnnouncedProject ??
      connection.model<Announcement>('RealtimeAnnouncedProject', announcementSchema)) as Model<Announcement>;
    await model.init();
    return new ProjectAnnouncements(model);
  }

  /**
   * The org channel's `project.created` when `envelope` announces its project; none otherwise.
   * Answers in the order asked; undefined at once (no store, no promise) for an event that cannot
   * announce: every task event passes here.
   */
  deliveries(envelope: EventEnvelope): Promise<ChannelDelivery[]> | undefined {
    if (!ANNOUNCING_TYPES.has(envelope.type)) return undefined;
    const project = envelope.data as ProjectData;
    if (!orgWide(project)) return undefined;
    const answer = this.queue.then(() => this.announcement(envelope, project));
    this.queue = answer.catch(() => undefined);
    return answer;
  }

  private async announcement(envelope: EventEnvelope, project: ProjectData): Promise<ChannelDelivery[]> {
    if (!(await this.announces(project.projectId, envelope.id))) return [];
    const event = {
      id: envelope.id,
      type: workEvents.projectCreated.type,
      occurredAt: envelope.occurredAt,
      actorId: envelope.actorId,
      data: envelope.data,
    };
    return [{ channel: channelName('org', project.orgId), event }];
  }

  /** Whether `eventId` is the one that announces the project (the first to ask, or asking again). */
  private async announces(projectId: string, eventId: string): Promise<boolean> {
    try {
      await this.model.create({ _id: projectId, eventId });
      return true;
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
      const announced = await this.model.findById(projectId, { eventId: 1 }).lean();
      return announced?.eventId === eventId;
    }
  }
}
