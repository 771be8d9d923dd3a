/**
 * A bounded in-process memo whose entries count only while younger than `ttlMs`; past
 * `maxEntries`, the least recently set go first. For facts a process may reuse for a short while
 * (a seq it took, an access decision), never for anything that must be read fresh.
 */
export class RecentMap<V> {
  private readonly entries = new Map<string, { value: V; at: number }>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;

  constructor(options: { ttlMs: number; maxEntries?: number }) {
    this.ttlMs = options.ttlMs;
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (Date.now() - entry.at < this.ttlMs) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  /** `at`: when the value was last known to hold (default now); it counts from then. */
  set(key: string, value: V, at = Date.now()): void {
    this.entries.delete(key); // re-inserted last: the map's order is recency
    this.entries.set(key, { value, at });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}

/**
 * Values loaded on demand and kept `ttlMs` (from the load's start), where concurrent asks for one
 * key share one load: a burst of events that all need the same fact at once reads it once, not
 * once per event in flight. `keep` says which loaded values are kept (a failed load never is).
 */
export class RecentLoads<V> {
  private readonly loads: RecentMap<Promise<V>>;
  private readonly keep: (value: V) => boolean;

  constructor(options: { ttlMs: number; maxEntries?: number; keep?: (value: V) => boolean }) {
    this.loads = new RecentMap(options);
    this.keep = options.keep ?? (() => true);
  }

  get(key: string, load: () => Promise<V>): Promise<V> {
    const known = this.loads.get(key);
    if (known) return known;
    const loading = load();
    this.loads.set(key, loading);
    const forget = () => {
      if (this.loads.get(key) === loading) this.loads.delete(key);
    };
    loading.then((value) => (this.keep(value) ? undefined : forget()), forget);
    return loading;
  }

  delete(key: string): void {
    this.loads.delete(key);
  }

  clear(): void {
    this.loads.clear();
  }
}
