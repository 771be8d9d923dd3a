import type { Sequelize } from 'sequelize';
import type { EventEnvelope } from '@trellis/shared';
import type { AuditLog } from './audit.service.ts';

interface Waiting {
  event: EventEnvelope;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Appends consumed events to the log in groups, one transaction per org: the events handed over
 * while a write runs wait and go together in the next one, so a fetched batch costs a few
 * statements per org instead of several per event. Writes follow one another, so each org's
 * events enter its log in the order they were handed over.
 */
export class AuditBatcher {
  private readonly sequelize: Sequelize;
  private readonly audit: AuditLog;
  private readonly waiting: Waiting[] = [];
  private writing: Promise<void> | undefined;

  constructor(deps: { sequelize: Sequelize; audit: AuditLog }) {
    this.sequelize = deps.sequelize;
    this.audit = deps.audit;
  }

  /** Resolves once the event is in its org's log (appended now or found there already). */
  append(event: EventEnvelope): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ event, resolve, reject });
      this.writing ??= this.writeWaiting();
    });
  }

  private async writeWaiting(): Promise<void> {
    // One turn of the event loop first, so the rest of a batch handed over together joins in.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.waiting.length > 0) {
      const byOrg = Map.groupBy(this.waiting.splice(0), ({ event }) => event.orgId);
      await Promise.all([...byOrg.values()].map((group) => this.write(group)));
    }
    // In the same tick as the last check: an event handed over after it starts a new loop.
    this.writing = undefined;
  }

  private async write(group: Waiting[]): Promise<void> {
    try {
      await this.transaction(group.map(({ event }) => event));
      for (const { resolve } of group) resolve();
    } catch (err) {
      if (group.length === 1) return group[0]?.reject(err);
      // An event the log refuses must not fail the others with it: each alone, in order.
      for (const { event, resolve, reject } of group) await this.transaction([event]).then(resolve, reject);
    }
  }

  private transaction(events: EventEnvelope[]): Promise<void> {
    return this.sequelize.transaction((transaction) => this.audit.append(transaction, events));
  }
}
