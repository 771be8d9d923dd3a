import type { Config } from '../config.ts';

export const UPSTREAMS = ['identity', 'governance', 'work', 'collab', 'notify'] as const;
export type Upstream = (typeof UPSTREAMS)[number];

/** api.md §7: which service answers which `/api/v1/<prefix>`. */
export const ROUTE_PREFIXES: Record<Upstream, string[]> = {
  identity: ['auth', 'users'],
  governance: ['orgs', 'teams', 'invitations'],
  work: ['projects', 'tasks', 'sprints'],
  collab: ['comments', 'channels', 'announcements'],
  notify: ['notifications', 'webhooks'],
};

export type UpstreamUrls = Record<Upstream, string>;

export function upstreamUrls(config: Config): UpstreamUrls {
  return {
    identity: config.IDENTITY_URL,
    governance: config.GOVERNANCE_URL,
    work: config.WORK_URL,
    collab: config.COLLAB_URL,
    notify: config.NOTIFY_URL,
  };
}

/** The upstream for a request path, or undefined when no prefix matches. */
export function upstreamFor(path: string): Upstream | undefined {
  const match = /^\/api\/v1\/([^/?#]+)/.exec(path);
  if (!match) return undefined;
  return UPSTREAMS.find((upstream) => ROUTE_PREFIXES[upstream].includes(match[1] ?? ''));
}
