import type { Model } from 'mongoose';
import {
  effectiveProjectRole,
  effectiveTeamRole,
  RecentMap,
  type OrgRole,
  type ProjectionModels,
} from '@trellis/shared';
import type { ChatChannel } from '../access/channel-access.ts';

/**
 * Whether a user may see an org event (api.md §10: a webhook sends, and the feed lists, only what
 * its reader may read), on the access projection with the roles of product.md §2:
 * - a current member of the org sees its events, including its deletion;
 * - an event about a project (its `projectId`) needs a project role in it, deleted projects
 *   included, so `project.deleted` reaches those who could see the project;
 * - a chat message needs access to its channel (org, team or project).
 * The answer is null while the event's project or chat channel is not projected yet (its `project.created` travels
 * on another topic): a delivery then waits for it, the feed shows it to org OWNERs and ADMINs only.
 * Answers are kept 2 s per (user, scope): a burst of one project's events reads each once.
 */
export class EventVisibility {
  private readonly m: ProjectionModels;
  private readonly channels: Model<ChatChannel>;
  private readonly recent = new RecentMap<boolean | null>({ ttlMs: 2_000, maxEntries: 10_000 });

  constructor(deps: { models: ProjectionModels; channels: Model<ChatChannel> }) {
    this.m = deps.models;
    this.channels = deps.channels;
  }

  async visible(
    userId: string,
    event: { orgId: string; projectId: string | null; channelId: string | null },
  ): Promise<boolean | null> {
    const key = `${userId}|${event.orgId}|${event.projectId ?? ''}|${event.channelId ?? ''}`;
    const known = this.recent.get(key);
    if (known !== undefined) return known;
    const answer = await this.decide(userId, event);
    if (answer !== null) this.recent.set(key, answer);
    return answer;
  }

  /** Forget kept answers (a membership changed on this replica). */
  forget(): void {
    this.recent.clear();
  }

  private async decide(
    userId: string,
    event: { orgId: string; projectId: string | null; channelId: string | null },
  ): Promise<boolean | null> {
    const orgRole = (await this.m.OrgMember.findById(`${event.orgId}:${userId}`).lean())?.role ?? null;
    if (!orgRole) return false;
    if (event.channelId) {
      const channel = await this.channels.findById(event.channelId).lean();
      // Not projected yet: whether it is a team's or a project's decides, so wait for it.
      if (!channel) return null;
      if (channel.scope === 'team') {
        const teamRole =
          (await this.m.TeamMember.findById(`${channel.scopeId}:${userId}`).lean())?.role ?? null;
        return effectiveTeamRole({ orgRole, teamRole }).role !== null;
      }
      if (channel.scope === 'project') return this.seesProject(channel.scopeId, userId, orgRole);
    }
    return event.projectId ? this.seesProject(event.projectId, userId, orgRole) : true;
  }

  private async seesProject(projectId: string, userId: string, orgRole: string): Promise<boolean | null> {
    const project = await this.m.Project.findById(projectId).lean();
    // Not projected yet: whoever sees every project of the org (even a PRIVATE one) sees it.
    if (!project)
      return effectiveProjectRole({ orgRole: orgRole as OrgRole, visibility: 'PRIVATE' }).role ? true : null;
    const [explicit, teamRole] = await Promise.all([
      this.m.ProjectMember.findById(`${projectId}:${userId}`).lean(),
      project.teamId ? this.m.TeamMember.findById(`${project.teamId}:${userId}`).lean() : null,
    ]);
    return (
      effectiveProjectRole({
        orgRole: orgRole as Parameters<typeof effectiveProjectRole>[0]['orgRole'],
        projectRole: explicit?.role ?? null,
        teamRole: teamRole?.role ?? null,
        visibility: project.visibility,
        projectHasTeam: project.teamId !== null,
      }).role !== null
    );
  }
}
