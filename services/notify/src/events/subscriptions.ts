import {
  identityEvents,
  routeByType,
  type EventBus,
  type EventConsumer,
  type EventEnvelope,
} from '@trellis/shared';
import type { MailRequest, MailService } from '../mail/mail.service.ts';

export interface SubscriptionDeps {
  mail: MailService;
}

/**
 * Everything notify consumes, in one list: one consumer group, its topics, a handler per event
 * type. The bus has already validated each event's data against its registered schema, so the
 * handlers may rely on the type.
 */
export function startSubscriptions(bus: EventBus, deps: SubscriptionDeps): Promise<EventConsumer> {
  return bus.consume({
    groupId: 'notify',
    topics: ['identity.mail'],
    handle: routeByType({
      [identityEvents.mailRequested.type]: ({ event }) =>
        deps.mail.deliver(event as EventEnvelope<MailRequest>),
    }),
  });
}
