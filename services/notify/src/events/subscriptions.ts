import {
  governanceEvents,
  identityEvents,
  routeByType,
  type EventBus,
  type EventConsumer,
  type EventEnvelope,
} from '@trellis/shared';
import type { MailRequest, MailService } from '../mail/mail.service.ts';

export interface SubscriptionDeps {
  mail: MailService;
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
 * Everything notify consumes, in one list: one consumer group, its topics, a handler per event
 * type. The bus has already validated each event's data against its registered schema, so the
 * handlers may rely on the type.
 */
export function startSubscriptions(bus: EventBus, deps: SubscriptionDeps): Promise<EventConsumer> {
  return bus.consume({
    groupId: 'notify',
    topics: [identityEvents.mailRequested.topic, governanceEvents.invitationMailRequested.topic],
    handle: routeByType({
      [identityEvents.mailRequested.type]: ({ event }) =>
        deps.mail.deliver(event as EventEnvelope<MailRequest>),
      [governanceEvents.invitationMailRequested.type]: ({ event }) =>
        deps.mail.deliver(invitationMail(event as InvitationMail, deps.appUrl)),
    }),
  });
}
