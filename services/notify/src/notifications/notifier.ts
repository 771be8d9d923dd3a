import { derivedId } from '../derived-id.ts';
import {
  CoalescedInserts,
  RecentLoads,
  type AccessReader,
  type AccessUser,
  type EventEnvelope,
  type Logger,
} from '@trellis/shared';
import type { MailQueue } from '../mail/mail.queue.ts';
import { bucketOf, type Notification, type NotifyModels } from './notification.model.ts';
import type { PreferenceService } from './preferences.ts';
import type { Intent, Trigger } from './triggers.ts';
import type { UnreadCounts } from './unread-counts.ts';
import { notificationView } from './notifications.views.ts';

/** What the notifier needs of the real-time hub: put an event on a channel, once per event id. */
export interface RealtimeFeed {
  append(
    channel: string,
    event: {
      id: string;
      type: string;
      occurredAt: string;
      actorId: string | null;
      data: Record<string, unknown>;
    },
    options: { placed: (seq: number) => Promise<void> },
  ): Promise<number>;
}

/** A UUID-shaped id derived from (event, recipient): the same pair always gives the same id. */
export function notificationId(eventId: string, userId: string): string {
  return derivedId(eventId, userId);
}

/**
 * Turns an event into notifications (product.md §10): the trigger names the recipients; the actor is
 * never notified, each recipient at most once per event, and each recipient's preferences decide
 * between the inbox (with a `notification.created` on their `user:<id>` channel) and e-mail. Every
 * step is idempotent per (event, recipient) — the notification's id is derived from both, the
 * channel append and the mail delivery are keyed by it — so a redelivered event, after a crash
 * anywhere in between, completes what is missing and repeats nothing.
 */
export class Notifier {
  private readonly models: NotifyModels;
  private readonly counts: UnreadCounts;
  private readonly reader: AccessReader;
  private readonly preferences: PreferenceService;
  private readonly realtime: RealtimeFeed;
  /** Notification mails go behind the event, never in its way (see `MailQueue`). */
  private readonly mail: Pick<MailQueue, 'enqueue'>;
  private readonly appUrl: string;
  private readonly logger: Logger;
  /**
   * Users' names and e-mail addresses, kept 5 s: a burst of events by one actor, or for one
   * recipient, reads each once. A renamed user shows with the old name for that long at most.
   */
  private readonly users = new RecentLoads<AccessUser | null>({
    ttlMs: 5_000,
    maxEntries: 10_000,
    // Only a user found is kept: one registered a moment ago must be found once projected.
    keep: (user) => user !== null,
  });
  /**
   * Who can see which project, kept 2 s: the check reads four documents, and a burst of events in
   * one project asks it again and again. Events of other topics (memberships) are not ordered with
   * task events anyway, so a removal applies to notifications a moment late either way (at once
   * when this replica handled it: `forgetAccess`); the WebSocket hub and the API read the projection.
   */
  private readonly visibility = new RecentLoads<boolean>({
    ttlMs: 2_000,
    maxEntries: 10_000,
    // Only a yes is kept: a membership projected a moment after the task's event must count at once.
    keep: (visible) => visible,
  });
  /** Notifications of concurrent events, inserted together. */
  private readonly inserts: CoalescedInserts<Notification>;

  constructor(deps: {
    models: NotifyModels;
    counts: UnreadCounts;
    reader: AccessReader;
    preferences: PreferenceService;
    realtime: RealtimeFeed;
    mail: Pick<MailQueue, 'enqueue'>;
    appUrl: string;
    logger: Logger;
  }) {
    this.models = deps.models;
    this.counts = deps.counts;
    this.inserts = new CoalescedInserts(deps.models.Notification);
    this.reader = deps.reader;
    this.preferences = deps.preferences;
    this.realtime = deps.realtime;
    this.mail = deps.mail;
    this.appUrl = deps.appUrl;
    this.logger = deps.logger.child({ component: 'notifier' });
  }

  async handle(trigger: Trigger, event: EventEnvelope): Promise<void> {
    const intents = await trigger.intents(event, {
      reader: this.reader,
      commenters: this.models.TaskCommenters,
      user: (userId) => this.user(userId),
      canSee: (projectId, userId) => this.canSee(projectId, userId),
    });
    const seen = new Set<string>();
    for (const intent of intents) {
      if (intent.userId === event.actorId || seen.has(intent.userId)) continue;
      seen.add(intent.userId);
      await this.deliver(intent, event);
    }
  }

  private async deliver(intent: Intent, event: EventEnvelope): Promise<void> {
    const preferences = await this.preferences.forDelivery(intent.userId);
    const id = notificationId(event.id, intent.userId);
    if (preferences.inApp[intent.type]) {
      const notification = this.notificationOf(id, intent, event);
      // Stored under its seq before anyone hears of it: a client reads its inbox on the event.
      await this.realtime.append(
        `user:${intent.userId}`,
        {
          id,
          type: 'notification.created',
          occurredAt: notification.createdAt.toISOString(),
          actorId: event.actorId,
          data: notificationView(notification),
        },
        { placed: (seq) => this.store({ ...notification, seq, bucket: bucketOf(intent.userId, seq) }) },
      );
    }
    if (preferences.email[intent.type]) {
      const user = await this.user(intent.userId);
      if (!user) return;
      await this.mail.enqueue({
        ...event,
        id,
        data: {
          template: 'notification',
          to: user.email,
          params: {
            name: user.name,
            title: intent.title,
            body: intent.body,
            url: new URL('/notifications', this.appUrl).toString(),
          },
        },
      });
    }
    this.logger.debug({ eventId: event.id, type: intent.type }, 'notified');
  }

  /**
   * Whether a mail of this type may go to this address: a registered user's e-mail preference
   * decides; an address without an account has no preferences (an invitation must reach it).
   */
  async emailAllowed(email: string, type: Intent['type']): Promise<boolean> {
    const user = await this.reader.userByEmail(email);
    return user ? (await this.preferences.forDelivery(user._id)).email[type] : true;
  }

  /** Access changed (a membership, a project's visibility …): decisions kept so far are dropped. */
  forgetAccess(): void {
    this.visibility.clear();
  }

  private canSee(projectId: string, userId: string): Promise<boolean> {
    return this.visibility.get(
      `${projectId} ${userId}`,
      async () => (await this.reader.project(projectId, userId)) !== null,
    );
  }

  private user(userId: string): Promise<AccessUser | null> {
    return this.users.get(userId, () => this.reader.user(userId));
  }

  private notificationOf(id: string, intent: Intent, event: EventEnvelope): Notification {
    return {
      _id: id,
      userId: intent.userId,
      seq: 0,
      bucket: '',
      orgId: event.orgId,
      type: intent.type,
      title: intent.title,
      body: intent.body,
      subject: intent.subject,
      actorId: event.actorId,
      eventId: event.id,
      read: false,
      readAt: null,
      createdAt: new Date(event.occurredAt),
    };
  }

  /**
   * Inserts the notification, in one insert shared with other events', and counts it unread; an
   * earlier delivery of this event stored (and counted) it already.
   */
  private async store(notification: Notification): Promise<void> {
    if (await this.inserts.insert(notification)) await this.counts.change(notification.userId, 1);
  }
}
