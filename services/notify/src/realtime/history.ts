import { CoalescedInserts, RecentMap, isDuplicateKeyError, upsertRetried } from '@trellis/shared';
import type { RealtimeEvent } from './channels.ts';
import {
  entryId,
  entryOf,
  insertedBeforeDuplicate,
  type ChannelHead,
  type HistoryEntry,
  type HistoryModels,
} from './history.model.ts';

export interface SequencedEvent {
  seq: number;
  event: RealtimeEvent;
}

export interface ChannelHistoryOptions {
  /**
   * How long this process trusts what it saw of a channel (its newest seq, the seq an event took)
   * without asking the store. Must stay below the retention age: an entry older than that may have
   * been pruned, and its seq must never be handed out again (default 60 s).
   */
  trustMs?: number;
  /** How often channel heads are written, behind the appends (default 1 s). */
  headFlushMs?: number;
}

/** Losing the race for a seq is normal under load; this many losses in a row is not. */
const MAX_APPEND_ATTEMPTS = 200;
/** Appends to one channel inserted in one round trip, at most. */
const MAX_BATCH = 100;
/** Point reads in flight at once when replaying. */
const READ_PARALLEL = 20;
/** Channels (and recent events) this process remembers; the least recently used are forgotten. */
const MAX_REMEMBERED = 10_000;

interface PendingRun {
  entries: HistoryEntry[];
  /** How many of the run's entries went in, in order, before a refusal (or before the command stopped). */
  resolve: (inserted: number) => void;
  reject: (err: unknown) => void;
}

interface PendingAppend {
  event: RealtimeEvent;
  at: Date;
  /** The event opens the channel (see `append`). */
  opens: boolean;
  resolve: (seq: number) => void;
  reject: (err: unknown) => void;
}

/**
 * Each channel's events under a gap-free `seq`, assigned once, in MongoDB, without transactions:
 * - the insert of `<channel>#<seq>` is the one atomic step: of two replicas racing for a seq, one
 *   insert wins and the other moves on past the channel's end, so seqs are dense (no gaps);
 * - the unique (channel, eventId) index refuses a second seq for the same event (redeliveries,
 *   crashes), and the existing seq is returned;
 * - the channel's head (`realtime_channels`) only says where to start looking: entries above it
 *   are dense, so the end is found by galloping from it. It is written behind the appends, at most
 *   once per `headFlushMs` per channel (an update costs more than an insert), and a head left
 *   behind by a crash costs a few more probes, nothing else.
 * In this process, a channel's appends start from the seq its previous one took, and those that
 * arrive while one is inserted go in together, in arrival order; the inserts of several channels
 * started together (one event on its project and its task channel, a fetched batch) go to the
 * store as one command. The usual append is a share of one insert round trip. Every hot-path read
 * is an `_id` lookup (FerretDB v1 scans for anything else).
 */
export class ChannelHistory {
  private readonly m: HistoryModels;
  private readonly headFlushMs: number;
  private readonly trustMs: number;
  /** Per channel with an insert running in this process, the appends waiting for it. */
  private readonly waiting = new Map<string, PendingAppend[]>();
  /** Per channel, the newest seq this process saw taken. */
  private readonly newest: RecentMap<number>;
  /** Per `<channel> <eventId>`, the seq this process gave the event (a retried append finds it here). */
  private readonly placed: RecentMap<number>;
  /** Channel runs to insert with the next command, in the order asked for (see `insertEntries`). */
  private readonly runs: PendingRun[] = [];
  /** Heads to write on the next flush. */
  private readonly unflushed = new Map<string, number>();
  /** Channels this process found without a head: the flush inserts theirs, all in one command. */
  private readonly headless: RecentMap<true>;
  private readonly headInserts: CoalescedInserts<ChannelHead>;
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(models: HistoryModels, options: ChannelHistoryOptions = {}) {
    this.m = models;
    this.headFlushMs = options.headFlushMs ?? 1_000;
    const trustMs = options.trustMs ?? 60_000;
    this.trustMs = trustMs;
    this.newest = new RecentMap({ ttlMs: trustMs, maxEntries: MAX_REMEMBERED });
    this.placed = new RecentMap({ ttlMs: trustMs, maxEntries: MAX_REMEMBERED });
    this.headless = new RecentMap({ ttlMs: trustMs, maxEntries: MAX_REMEMBERED });
    this.headInserts = new CoalescedInserts(models.heads);
  }

  /**
   * The event's seq on the channel: the one it already has, or the next free one. Appends made
   * while the channel has an insert running wait for it, then go in together, in the order made.
   * `opens`: nothing was on the channel before this event (a new task's `task.created` on its
   * `task:` channel), so a channel this process does not know is tried at seq 1 without looking for
   * its end first — two lookups saved per new task. Only while the event is recent: its entry
   * cannot have been pruned yet. Should the channel hold something after all (a redelivery), the
   * insert is refused and the usual path takes over.
   */
  append(
    channel: string,
    event: RealtimeEvent,
    { at = new Date(), opens = false }: { at?: Date; opens?: boolean } = {},
  ): Promise<number> {
    const seq = this.placed.get(`${channel} ${event.id}`);
    if (seq !== undefined) return Promise.resolve(seq);
    const append = { event, at, opens: opens && Date.now() - Date.parse(event.occurredAt) < this.trustMs };
    return new Promise((resolve, reject) => {
      const waiting = this.waiting.get(channel);
      if (waiting) return void waiting.push({ ...append, resolve, reject });
      this.waiting.set(channel, [{ ...append, resolve, reject }]);
      // Started a microtask later, so appends made in the same run (a fetched batch) go in together.
      queueMicrotask(() => void this.drain(channel));
    });
  }

  /** A channel taken to be new (`append`'s `opens`): seq 0 so far, its head inserted on the next flush. */
  private opened(channel: string): number {
    this.headless.set(channel, true);
    return 0;
  }

  /** The channel's newest seq; 0 when it has none. */
  async lastSeq(channel: string): Promise<number> {
    const startedAt = Date.now();
    const found = await this.m.heads.findById(channel, { seq: 1 }).lean();
    if (!found) this.headless.set(channel, true);
    const head = found?.seq ?? 0;
    const seq = await this.endFrom(channel, Math.max(head, this.newest.get(channel) ?? 0));
    if (seq > 0) this.noteNewest(channel, seq, startedAt);
    if (seq > head) this.pendHead(channel, seq); // repairs a head left behind
    return seq;
  }

  /** The oldest seq still retained; undefined when the channel has none. */
  async oldestSeq(channel: string): Promise<number | undefined> {
    const head = await this.m.heads.findById(channel, { first: 1 }).lean();
    const last = await this.lastSeq(channel);
    for (let seq = head?.first ?? 1; seq <= last; seq += 1)
      if (await this.m.entries.exists({ _id: entryId(channel, seq) })) return seq;
    return undefined;
  }

  /** Events with `after < seq <= upTo`, in order; stops at the first one missing (retention). */
  async *range(channel: string, after: number, upTo: number): AsyncGenerator<SequencedEvent> {
    for (let from = after + 1; from <= upTo; from += READ_PARALLEL) {
      const seqs = Array.from({ length: Math.min(READ_PARALLEL, upTo - from + 1) }, (_, i) => from + i);
      const batch = await Promise.all(
        seqs.map((seq) => this.m.entries.findById(entryId(channel, seq), { seq: 1, event: 1 }).lean()),
      );
      for (const entry of batch) {
        if (!entry) return;
        yield { seq: entry.seq, event: entry.event };
      }
    }
  }

  /**
   * Retention (api.md §9: ≥ 24 h or the last `keepLast` per channel): deletes, oldest first, the
   * entries older than `maxAgeMs` that are not among their channel's newest `keepLast`. A channel's
   * newest entry always stays. Seqs grow with time on a channel, so each channel's walk stops at
   * the first entry young enough to keep. Returns how many were deleted.
   */
  async prune(options: { maxAgeMs: number; keepLast: number; now?: Date }): Promise<number> {
    const keepLast = Math.max(1, options.keepLast);
    const cutoff = new Date((options.now ?? new Date()).getTime() - options.maxAgeMs);
    await this.flushHeads(); // a channel appended to since the last flush may have no head yet
    let deleted = 0;
    for (const head of await this.m.heads.find({}).lean()) {
      // Nothing to delete in a channel holding no more than `keepLast` entries: most of them (a
      // task's), and asking each for its end cost every run two lookups per channel ever created.
      // A head lagging behind its channel's end only puts that channel off to the next run.
      if (head.seq - head.first + 1 <= keepLast) continue;
      const keepFrom = (await this.lastSeq(head._id)) - keepLast + 1;
      let first = head.first;
      for (; first < keepFrom; first += 1) {
        const entry = await this.m.entries.findById(entryId(head._id, first), { at: 1 }).lean();
        if (entry && entry.at >= cutoff) break;
        if (entry) deleted += (await this.m.entries.deleteOne({ _id: entry._id })).deletedCount;
      }
      if (first !== head.first) await this.m.heads.updateOne({ _id: head._id }, { $set: { first } });
    }
    return deleted;
  }

  /** Writes the pending heads now (the periodic flush; before pruning and at shutdown). */
  flushHeads(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    // One flush at a time: FerretDB updates are read-then-write, so racing ones could move a head back.
    const flush = this.flushing.then(() => this.writeHeads());
    this.flushing = flush.catch(() => undefined);
    return flush;
  }

  /** Inserts what waits on the channel, a batch at a time, until nothing does. */
  private async drain(channel: string): Promise<void> {
    const waiting = this.waiting.get(channel) ?? [];
    while (waiting.length > 0) {
      const batch = waiting.splice(0, MAX_BATCH);
      try {
        await this.appendBatch(channel, batch);
      } catch (err) {
        // Those waiting behind fail too, so none overtakes a failed one: their retries come in order.
        for (const append of [...batch, ...waiting.splice(0)]) append.reject(err);
      }
    }
    this.waiting.delete(channel);
  }

  /**
   * The usual case in one round trip: the batch inserted at the seqs after the newest this process
   * knows of. Should one be refused, `appendOne` finds out why (a seq another writer took, or an
   * event placed before), and those after it are tried again as a batch.
   */
  private async appendBatch(channel: string, batch: PendingAppend[]): Promise<void> {
    let rest = batch;
    while (rest.length > 0) {
      const first =
        (this.newest.get(channel) ?? (rest[0]!.opens ? this.opened(channel) : await this.lastSeq(channel))) +
        1;
      const inserted = await this.insertRun(channel, first, rest);
      rest.slice(0, inserted).forEach((append, i) => append.resolve(first + i));
      const [refused, ...after] = rest.slice(inserted);
      if (refused) refused.resolve(await this.appendOne(channel, refused));
      rest = after;
    }
  }

  /** Inserts the batch at `first`, `first + 1` … in order; returns how many went in before a refusal. */
  private async insertRun(channel: string, first: number, batch: PendingAppend[]): Promise<number> {
    const startedAt = Date.now();
    const inserted = await this.insertEntries(batch.map((append, i) => entryOf(channel, first + i, append)));
    batch.slice(0, inserted).forEach(({ event }, i) => this.notePlaced(channel, event, first + i));
    if (inserted > 0) this.noteNewest(channel, first + inserted - 1, startedAt);
    return inserted;
  }

  /**
   * Inserts one channel's run; runs asked for in the same tick (other channels') share the command.
   * Returns how many of this run's entries went in before a refusal. The command is ordered, so a
   * refusal in an earlier run stops the later ones short: their first entry then takes the
   * one-at-a-time path, which finds it free and inserts it (a rare case: a seq another replica took).
   */
  private insertEntries(entries: HistoryEntry[]): Promise<number> {
    return new Promise((resolve, reject) => {
      this.runs.push({ entries, resolve, reject });
      if (this.runs.length === 1) queueMicrotask(() => void this.insertRuns());
    });
  }

  private async insertRuns(): Promise<void> {
    const runs = this.runs.splice(0);
    const entries = runs.flatMap((run) => run.entries);
    let inserted = entries.length;
    try {
      // Ordered: one round trip, and its error says which entry was refused first. Lean: no hydration.
      await this.m.entries.insertMany(entries, { ordered: true, lean: true });
    } catch (err) {
      try {
        inserted = insertedBeforeDuplicate(err);
      } catch (failure) {
        for (const run of runs) run.reject(failure);
        return;
      }
    }
    let offset = 0;
    for (const run of runs) {
      run.resolve(Math.min(run.entries.length, Math.max(0, inserted - offset)));
      offset += run.entries.length;
    }
  }

  /** One append the batch could not place: an insert at the next seq, until one is won. */
  private async appendOne(channel: string, append: PendingAppend): Promise<number> {
    const { event } = append;
    const placed = this.placed.get(`${channel} ${event.id}`);
    if (placed !== undefined) return placed; // twice in one batch
    let seq = (this.newest.get(channel) ?? (await this.lastSeq(channel))) + 1;
    for (let attempt = 1; ; attempt += 1) {
      const startedAt = Date.now();
      try {
        await this.m.entries.create(entryOf(channel, seq, append));
        this.noteNewest(channel, seq, startedAt);
        return this.notePlaced(channel, event, seq);
      } catch (err) {
        if (!isDuplicateKeyError(err) || attempt >= MAX_APPEND_ATTEMPTS) throw err;
        const taken = await this.m.entries.findById(entryId(channel, seq), { eventId: 1 }).lean();
        if (taken?.eventId === event.id) return this.notePlaced(channel, event, seq);
        if (taken) {
          // Another writer (a replica, or this one before a restart) got there first: go past the end.
          seq = (await this.endFrom(channel, seq)) + 1;
          continue;
        }
        // The seq is free, so the event itself is already on the channel (a redelivery).
        const existing = await this.m.entries.findOne({ channel, eventId: event.id }, { seq: 1 }).lean();
        if (existing) return this.notePlaced(channel, event, existing.seq);
        // Freed meanwhile by retention: start again from the channel's end.
        this.newest.delete(channel);
        seq = (await this.lastSeq(channel)) + 1;
      }
    }
  }

  /**
   * The channel's end, given that `from` is taken (or 0): entries above the newest are dense, so
   * probe `from + 1, + 2, + 4 …` until one is missing, then bisect — a few `_id` lookups even when
   * the head lags far behind.
   */
  private async endFrom(channel: string, from: number): Promise<number> {
    const exists = async (seq: number) =>
      (await this.m.entries.exists({ _id: entryId(channel, seq) })) !== null;
    let taken = from;
    let step = 1;
    while (await exists(taken + step)) {
      taken += step;
      step *= 2;
    }
    let missing = taken + step;
    while (missing - taken > 1) {
      const middle = Math.floor((taken + missing) / 2);
      if (await exists(middle)) taken = middle;
      else missing = middle;
    }
    return taken;
  }

  /**
   * `seq` was the channel's newest at `since`: the seq after it was free then, so it cannot have
   * been pruned before `trustMs` (below the retention age) has passed. Its head is written next flush.
   */
  private noteNewest(channel: string, seq: number, since: number): void {
    if (seq >= (this.newest.get(channel) ?? 0)) this.newest.set(channel, seq, since);
    this.pendHead(channel, seq);
  }

  private notePlaced(channel: string, event: RealtimeEvent, seq: number): number {
    this.placed.set(`${channel} ${event.id}`, seq);
    return seq;
  }

  private pendHead(channel: string, seq: number): void {
    if ((this.unflushed.get(channel) ?? 0) >= seq) return;
    this.unflushed.set(channel, seq);
    this.flushTimer ??= setTimeout(() => void this.flushHeads().catch(() => undefined), this.headFlushMs);
    this.flushTimer.unref();
  }

  private async writeHeads(): Promise<void> {
    const heads = [...this.unflushed];
    this.unflushed.clear();
    const results = await Promise.allSettled(heads.map(([channel, seq]) => this.writeHead(channel, seq)));
    const failed = heads.filter((_, i) => results[i]?.status === 'rejected');
    for (const [channel, seq] of failed) this.pendHead(channel, seq); // tried again on the next flush
    const failure = results.find((result) => result.status === 'rejected');
    if (failure) throw failure.reason;
  }

  /**
   * A new channel's first head (a task's, mostly) is inserted, with the other new heads of the flush
   * in one command, rather than upserted (a find, then an insert, on FerretDB v1). A head that is
   * there — another writer's — is moved forward.
   */
  private async writeHead(channel: string, seq: number): Promise<void> {
    if (this.headless.get(channel)) {
      this.headless.delete(channel);
      if (await this.headInserts.insert({ _id: channel, seq, first: 1 })) return;
    }
    await this.advanceHead(channel, seq);
  }

  /** Moves the head forward to `seq` (by `_id` alone: a filter on `seq` too would scan every head). */
  private advanceHead(channel: string, seq: number): Promise<unknown> {
    return upsertRetried(() =>
      this.m.heads.updateOne(
        { _id: channel },
        { $max: { seq }, $setOnInsert: { first: 1 } },
        { upsert: true },
      ),
    );
  }
}
