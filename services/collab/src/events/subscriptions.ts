import {
  byActivity,
  consumerOf,
  governanceEvents as governance,
  mongoInboxSubscriber,
  workEvents as work,
  type AccessProjection,
  type ConsumerOptions,
  type MongoInbox,
  type Subscription,
} from '@trellis/shared';
import { orgChannel, type ChannelService } from '../channels/channels.service.ts';

/** Collab's consumer group for the activity topics (`ACTIVITY_TOPICS`: task events, for collab). */
export const CONSUMER_GROUP = 'collab';
/** Collab's consumer group for everything else: orgs, memberships, teams, projects, users. */
export const ORG_CONSUMER_GROUP = 'collab-org';

interface ProjectData {
  orgId: string;
  projectId: string;
  name: string;
  status: string;
}

/** A project waiting for approval is invisible (product.md §5): its channel comes when it activates. */
const projectChannel = (d: ProjectData) =>
  d.status === 'PENDING_APPROVAL'
    ? null
    : { orgId: d.orgId, scope: 'project' as const, scopeId: d.projectId, name: d.name };

/** Channels follow their org, team or project (product.md §9). */
export function channelSubscriptions(inbox: MongoInbox, channels: ChannelService): Subscription[] {
  const on = mongoInboxSubscriber(inbox, 'collab-channels');
  const team = (d: { orgId: string; teamId: string; name: string }) => ({
    orgId: d.orgId,
    scope: 'team' as const,
    scopeId: d.teamId,
    name: d.name,
  });
  const project = async (d: ProjectData, actorId: string | null) => {
    const spec = projectChannel(d);
    if (spec) await channels.appeared(spec, actorId);
  };
  return [
    on(governance.orgCreated, (d, e) => channels.ensure(orgChannel(d.orgId), e.actorId)),
    on(governance.orgRestored, (d, e) => channels.ensure(orgChannel(d.orgId), e.actorId)),
    on(governance.teamCreated, (d, e) => channels.appeared(team(d), e.actorId)),
    on(governance.teamUpdated, (d, e) => channels.appeared(team(d), e.actorId)),
    on(governance.teamDeleted, (d, e) => channels.archive('team', d.teamId, e.actorId)),
    on(work.projectCreated, (d, e) => project(d, e.actorId)),
    // Also how an approved project (PENDING_APPROVAL → ACTIVE) gets its channel.
    on(work.projectUpdated, (d, e) => project(d, e.actorId)),
    on(work.projectRestored, async (d, e) => {
      const spec = projectChannel(d);
      if (spec) await channels.restored(spec, e.actorId);
    }),
    on(work.projectDeleted, (d, e) => channels.archive('project', d.projectId, e.actorId)),
  ];
}

/**
 * Everything collab consumes, in one list under one group: the access projection first (so the
 * effects after it read an up-to-date projection), then the channels' own reactions.
 */
export function collabSubscriptions(deps: {
  projection: AccessProjection;
  inbox: MongoInbox;
  channels: ChannelService;
}): Subscription[] {
  return [...deps.projection.subscriptions(deps.inbox), ...channelSubscriptions(deps.inbox, deps.channels)];
}

/**
 * collab's consumers. The task events (`ACTIVITY_TOPICS`) have a group of their own, so a backlog of
 * them never holds up a membership removal, a new project's channel or a deleted org: those stay as
 * quick as on an idle system. Its fetches gather up to 100 ms of events (as notify's do): it reads
 * every task event, and most change nothing it keeps, so under load that is one fetch per batch
 * instead of one per event. The price: a task change reaches collab's projection up to 100 ms later.
 */
export function collabConsumers(subscriptions: Subscription[]): ConsumerOptions[] {
  const { activity, other } = byActivity(subscriptions);
  return [
    { ...consumerOf(CONSUMER_GROUP, activity), batchWaitMs: 100 },
    consumerOf(ORG_CONSUMER_GROUP, other),
  ];
}
