import type { Model } from 'mongoose';
import {
  byActivity,
  collabEvents,
  consumerOf,
  type ConsumerOptions,
  governanceEvents,
  identityEvents,
  idempotentSubscriber,
  mongoInboxSubscriber,
  onlyWhen,
  workEvents,
  type AccessProjection,
  type EventEnvelope,
  type MongoInbox,
  type Subscription,
} from '@trellis/shared';
import type { ChatChannel } from '../access/channel-access.ts';
import type { MailRequest, MailService } from '../mail/mail.service.ts';
import type { TaskCommenters } from '../notifications/notification.model.ts';
import type { Notifier } from '../notifications/notifier.ts';
import { TRIGGERS } from '../notifications/triggers.ts';

/** notify's consumer group for the activity topics (`ACTIVITY_TOPICS`; the hub's fan-out has groups of its own). */
export const CONSUMER_GROUP = 'notify';
/** notify's consumer group for everything else but mail: orgs, memberships, teams, projects, users. */
export const ORG_CONSUMER_GROUP = 'notify-org';
/** notify's consumer group for mail requests. */
export const MAIL_CONSUMER_GROUP = 'notify-mail';

export interface SubscriptionDeps {
  inbox: MongoInbox;
  projection: AccessProjection;
  chatChannels: Model<ChatChannel>;
  commenters: Model<TaskCommenters>;
  notifier: Notifier;
  mail: MailService;
  /** Tells every replica's hub to re-check these users' subscriptions (all of the org's when empty). */
  accessChanged: (orgId: string | null, userIds: string[]) => Promise<void>;
  /** Base of the links mails carry (APP_URL). */
  appUrl: string;
}

type InvitationMail = EventEnvelope<{
  to: string;
  token: string;
  orgName: string;
  inviterName: string;
  role: string;
  expiresAt: string;
}>;

/** The invitation's accept link; api.md §8: the token travels as `token=<token>`. */
export function invitationMail(event: InvitationMail, appUrl: string): EventEnvelope<MailRequest> {
  const { to, token, orgName, inviterName, role, expiresAt } = event.data;
  const acceptUrl = new URL('/invitations/accept', appUrl);
  acceptUrl.searchParams.set('token', token);
  return {
    ...event,
    data: {
      template: 'invitation',
      to,
      params: { orgName, inviterName, role, expiresAt, acceptUrl: acceptUrl.toString() },
    },
  };
}

/**
 * Everything notify consumes under its group, in order per event type: the authorization
 * projection first (so what follows reads it current), then access changes for the hub, then the
 * notification triggers, then the mails. The bus has already validated each event's data.
 */
export function notifySubscriptions(deps: SubscriptionDeps): Subscription[] {
  const { inbox, notifier, mail } = deps;
  // One inbox name per family: several families react to the same event type.
  const on = mongoInboxSubscriber(inbox, 'notify-access-change');
  // No inbox record for notifications: every step of the notifier is idempotent per (event,
  // recipient), and the record would cost two round trips for every event.
  const onNotify = idempotentSubscriber();
  const onMail = mongoInboxSubscriber(inbox, 'notify-mail');
  const g = governanceEvents;
  const w = workEvents;
  const c = collabEvents;

  // Changes that can take access away: the hub re-checks the subscriptions concerned.
  const revoke = <D extends { orgId: string; userId?: string }>(definition: Parameters<typeof on<D>>[0]) =>
    on(definition, (d) => {
      notifier.forgetAccess();
      return deps.accessChanged(d.orgId, d.userId ? [d.userId] : []);
    });
  const chat = deps.chatChannels;

  return [
    ...deps.projection.subscriptions(inbox),
    // Also a restored project's channel, announced as created anew after its `channel.archived`.
    on(c.channelCreated, (d) =>
      chat.updateOne(
        { _id: d.channelId },
        { $set: { orgId: d.orgId, scope: d.scope, scopeId: d.scopeId, archived: false } },
        { upsert: true },
      ),
    ),
    on(c.channelArchived, async (d) => {
      await chat.updateOne({ _id: d.channelId }, { $set: { archived: true } });
      await deps.accessChanged(d.orgId, []);
    }),
    revoke(g.memberRemoved),
    revoke(g.memberRoleChanged),
    revoke(g.orgDeleted),
    revoke(g.teamDeleted),
    revoke(g.teamMemberRemoved),
    revoke(g.teamMemberRoleChanged),
    revoke(w.projectMemberRemoved),
    revoke(w.projectMemberRoleChanged),
    revoke(w.projectDeleted),
    revoke(w.projectUpdated),
    revoke(w.taskDeleted),
    // Decided from the event alone: most task updates notify nobody and need no store round trip.
    ...TRIGGERS.map((trigger) =>
      onlyWhen(
        onNotify(trigger.definition, (_d, event) => notifier.handle(trigger, event)),
        trigger.applies,
      ),
    ),
    on(c.commentCreated, (d) =>
      deps.commenters.updateOne({ _id: d.taskId }, { $addToSet: { userIds: d.authorId } }, { upsert: true }),
    ),
    onMail(identityEvents.mailRequested, (_d, event) => mail.deliver(event as EventEnvelope<MailRequest>)),
    onMail(g.invitationMailRequested, async (d, event) => {
      if (await notifier.emailAllowed(d.to, 'invitation.received'))
        await mail.deliver(invitationMail(event as InvitationMail, deps.appUrl));
    }),
  ];
}

/** Topics that carry mail requests: read under a group of their own (see `notifyConsumers`). */
const MAIL_TOPICS = new Set<string>([
  identityEvents.mailRequested.topic,
  governanceEvents.invitationMailRequested.topic,
]);

/**
 * notify's consumers, in three groups that never wait for each other. Mail requests (sign-up codes,
 * password resets, invitations) have one; the activity topics (`ACTIVITY_TOPICS`: tasks, sprints,
 * comments, chat, announcements) another; everything else — orgs, memberships, teams, projects,
 * users: the access projection and the hub's access re-checks — the third. So a burst of work leaves
 * mail, removals and revocations as quick as on an idle system. The activity and org groups take
 * more attempts than the default: a comment can arrive before the task it is on (another topic), a
 * task before its project, and their notifications wait for those to be projected. The activity
 * group gathers up to 100 ms of events per fetch: a notification that much later goes unnoticed, and
 * it reads every busy topic (each task update, for instance, most of which it skips at once).
 */
export function notifyConsumers(subscriptions: Subscription[]): ConsumerOptions[] {
  const mail = subscriptions.filter((s) => MAIL_TOPICS.has(s.topic));
  const { activity, other } = byActivity(subscriptions.filter((s) => !MAIL_TOPICS.has(s.topic)));
  return [
    { ...consumerOf(CONSUMER_GROUP, activity), maxAttempts: 6, batchWaitMs: 100, keyConcurrency: 32 },
    { ...consumerOf(ORG_CONSUMER_GROUP, other), maxAttempts: 6, keyConcurrency: 8 },
    { ...consumerOf(MAIL_CONSUMER_GROUP, mail), batchWaitMs: 100 },
  ];
}
