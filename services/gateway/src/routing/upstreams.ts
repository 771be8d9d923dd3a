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

/**
 * Paths under another service's prefix that an upstream answers, matched on the path after
 * `/api/v1/`, before the prefixes: an org's webhooks and event feed live in notify (api.md §10), its
 * rule book in work, which holds every membership and setting a decision reads.
 */
export const NESTED_ROUTES: { upstream: Upstream; pattern: RegExp }[] = [
  { upstream: 'notify', pattern: /^orgs\/[^/?#]+\/(?:webhooks|events)(?:[/?#]|$)/ },
  { upstream: 'work', pattern: /^orgs\/[^/?#]+\/policy(?:[/?#]|$)/ },
];

/** Each upstream's target base URLs (its replicas, or one address that balances them). */
export type UpstreamUrls = Record<Upstream, string[]>;

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
  const rest = path.slice('/api/v1/'.length);
  const nested = NESTED_ROUTES.find((route) => route.pattern.test(rest));
  if (nested) return nested.upstream;
  return UPSTREAMS.find((upstream) => ROUTE_PREFIXES[upstream].includes(match[1] ?? ''));
}
