// The consumer groups of the suite and what each reads, built from each service's one subscription
// list without any I/O (every dependency is a stub: the lists are built, never run). Read by
// events-table.ts (docs/events.md) and asyncapi.ts (the AsyncAPI document).
import { projectionSubscriptions, type ProjectionWriter, type Subscription } from '@trellis/shared';
import { collabConsumers, collabSubscriptions } from '../../services/collab/src/events/subscriptions.ts';
import { AUDITED_TOPICS } from '../../services/governance/src/audit/audit.subscription.ts';
import { governanceSubscriptions } from '../../services/governance/src/events/subscriptions.ts';
import { identitySubscriptions } from '../../services/identity/src/events/subscriptions.ts';
import { notifyConsumers, notifySubscriptions } from '../../services/notify/src/events/subscriptions.ts';
import { SOURCE_GROUP, sourceEvents } from '../../services/notify/src/realtime/realtime.module.ts';
import { WEBHOOK_CONSUMER_GROUP } from '../../services/notify/src/webhooks/fanout.ts';
import { PUBLIC_TOPICS } from '../../services/notify/src/webhooks/webhook.rules.ts';
import { workSubscriptions } from '../../services/work/src/events/subscriptions.ts';

/** Stands in for every dependency: the lists are built, never run. */
function stub(): never {
  const target = () => undefined;
  const proxy: unknown = new Proxy(target, {
    get: (_t, key) => (key === Symbol.iterator ? function* () {} : key === 'then' ? undefined : proxy),
    apply: () => proxy,
  });
  return proxy as never;
}

/** The shared access projection's subscriptions, as collab and notify put them first in their lists. */
const projection = { subscriptions: () => projectionSubscriptions(stub() as ProjectionWriter, stub(), 'x') };

export interface Group {
  service: string;
  group: string;
  /** Event types read; `*` for every type of the topics. */
  reads: { topic: string; type: string }[];
}

const typesOf = (subscriptions: Pick<Subscription, 'topic' | 'type'>[]) =>
  subscriptions.map(({ topic, type }) => ({ topic, type }));
const everything = (topics: readonly string[]) => topics.map((topic) => ({ topic, type: '*' }));
const split = (
  service: string,
  subscriptions: Subscription[],
  options: { groupId: string; topics: string[] }[],
) =>
  options.map((o) => ({
    service,
    group: o.groupId,
    reads: typesOf(subscriptions.filter((s) => o.topics.includes(s.topic))),
  }));

const collab = collabSubscriptions({ projection: projection as never, inbox: stub(), channels: stub() });
const notify = notifySubscriptions({ ...(stub() as object), projection: projection as never } as never);
export const groups: Group[] = [
  { service: 'identity', group: 'identity', reads: typesOf(identitySubscriptions(stub())) },
  { service: 'governance', group: 'governance', reads: typesOf(governanceSubscriptions(stub())) },
  { service: 'governance', group: 'governance-audit', reads: everything(AUDITED_TOPICS) },
  {
    service: 'work',
    group: 'work',
    // The access memo's guard wraps each subscription's handler; the list is what counts here.
    reads: typesOf(
      workSubscriptions({ ...(stub() as object), memo: { guard: (s: Subscription) => s } } as never),
    ),
  },
  ...split('collab', collab, collabConsumers(collab)),
  ...split('notify', notify, notifyConsumers(notify)),
  { service: 'notify', group: SOURCE_GROUP, reads: typesOf(sourceEvents) },
  { service: 'notify', group: WEBHOOK_CONSUMER_GROUP, reads: everything(PUBLIC_TOPICS) },
  {
    service: 'notify',
    group: 'notify-hub-<replica>',
    reads: everything(['notify.realtime', 'identity.session']),
  },
  {
    service: 'every service',
    group: '<service>-revocations-<host>-<id>',
    reads: [{ topic: 'identity.session', type: 'session.revoked' }],
  },
];
