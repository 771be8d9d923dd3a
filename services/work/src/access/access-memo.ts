import type { Transaction } from 'sequelize';
import { RecentMap, type PgOutbox, type Subscription } from '@trellis/shared';
import type { ProjectContext } from './access.context.ts';

/**
 * Read-only project access decisions, remembered per (project, user) for a short time so a burst
 * of reads (a board loading, a list being paged) does not look the same memberships up on every
 * request. Only granted decisions are kept (a 404 is looked up again each time), and only read
 * paths use them; every write decides on fresh rows inside its transaction.
 *
 * Staleness is bounded three ways:
 * - while this process applies a projection change (a membership, team, org or settings event, or
 *   governance's fallback answer), nothing is served or remembered, and everything is forgotten
 *   when it is done: a removed member loses access here as soon as the event is applied;
 * - a change to a project made by this process (any `project.*` event it publishes) forgets
 *   everything once it commits;
 * - an entry is at most `ttlMs` old, which bounds what another replica's changes can leave
 *   behind here (on top of the event's own delivery time).
 */
export class AccessMemo {
  private readonly ttlMs: number;
  private readonly entries: RecentMap<ProjectContext>;
  /** Bumped on every invalidation: a decision read before one is never remembered after it. */
  private generation = 0;
  /** Projection changes being applied right now. */
  private applying = 0;

  constructor(options: { ttlMs: number; maxEntries?: number }) {
    this.ttlMs = options.ttlMs;
    this.entries = new RecentMap({ ttlMs: options.ttlMs, maxEntries: options.maxEntries });
  }

  private key(projectId: string, userId: string): string {
    return `${projectId}:${userId}`;
  }

  get(projectId: string, userId: string): ProjectContext | undefined {
    if (this.ttlMs <= 0 || this.applying > 0) return undefined;
    return this.entries.get(this.key(projectId, userId));
  }

  /** Where a lookup starts: pass it back to `remember`. */
  mark(): number {
    return this.generation;
  }

  remember(mark: number, projectId: string, userId: string, context: ProjectContext): void {
    if (this.ttlMs <= 0 || this.applying > 0 || mark !== this.generation) return;
    this.entries.set(this.key(projectId, userId), Object.freeze(context));
  }

  invalidate(): void {
    this.generation += 1;
    this.entries.clear();
  }

  /** Runs a projection change: nothing is served while it runs, everything is forgotten after. */
  async whileApplying<T>(change: () => Promise<T>): Promise<T> {
    this.applying += 1;
    try {
      return await change();
    } finally {
      this.applying -= 1;
      this.invalidate();
    }
  }

  /** The subscription, its handling (inbox transaction included) run through `whileApplying`. */
  guard(subscription: Subscription): Subscription {
    return { ...subscription, handle: (context) => this.whileApplying(() => subscription.handle(context)) };
  }

  /** Forgets everything once a transaction publishing a `project.*` event commits. */
  watch(outbox: PgOutbox): void {
    outbox.onAdd(async (transaction: Transaction, events) => {
      if (events.some((event) => event.type.startsWith('project.')))
        transaction.afterCommit(() => this.invalidate());
    });
  }
}
